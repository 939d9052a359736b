"""Server-role scenarios (the implementation under test is the PSRP server)."""
from lib import *

CAP_OK = {"protocolVersion": {"regex": "^2\\.[0-9]+$"}}
OPEN = {"include": "psrp/open"}
PROF_KEYX = ["psrp-2.0", "psrp-2.1", "psrp-2.2", "psrp-2.3"]
BROKEN = {"expect": {"runspacepool-state": {"runspaceState": {"one-of": [3, 5]}},
                     "pipeline-state": {"pipelineState": {"one-of": [3, 5]}}},
          "within": "3s",
          "note": "a correct server closes the pool (RUNSPACEPOOL_STATE Closed/Broken) or stops the pipeline (PIPELINE_STATE Stopped/Failed)"}
POOL_BROKEN = {"expect": {"runspacepool-state": {"runspaceState": {"one-of": [3, 5]}}}, "within": "3s",
               "note": "the pool must be closed or broken, and the client told with RUNSPACEPOOL_STATE (§3.2.5.2 rule 7)"}
CLOSE_PRE_OPEN = {"expect-close": {"within": "3s", "allow": ["runspacepool-state", "session-capability"]},
                  "note": "before the pool is open the server can only break it and end the session"}


def avail(ci):
    return {"expect": {"runspace-availability": {"ci": ci}}, "within": "3s"}


def tolerant(ci, note, x):
    """Send `x` (bytes, or a structured message encoded with ObjectId 3000+) and a pool request in ONE
    write, so a server that closes at `x` cannot make the second write fail; then the request is either
    answered (`x` was ignored) or the pool was closed."""
    xb = x if isinstance(x, bytes) else enc(x)
    follow = enc({"get-available-runspaces": {"ci": ci, "objectId": 3100 + ci}})
    return [
        {"comment": "the odd input and GET_AVAILABLE_RUNSPACES ci %d in one write" % ci},
        {"send-hex": hexs(xb + follow)},
        {"expect": {"runspace-availability": {"ci": ci},
                    "runspacepool-state": {"runspaceState": {"one-of": [3, 5]}}},
         "within": "3s", "note": note},
    ]


def tolerant_pipeline(x, note):
    """`x` for pipeline P1 and END_OF_PIPELINE_INPUT in one write; the pipeline then ends (any final
    state) or the pool is closed."""
    xb = x if isinstance(x, bytes) else enc(x)
    follow = enc({"end-of-pipeline-input": {"pid": P1, "objectId": 3200}})
    return [
        {"comment": "the odd input and END_OF_PIPELINE_INPUT in one write"},
        {"send-hex": hexs(xb + follow)},
        {"expect": {"pipeline-state": {"pid": P1, "pipelineState": {"one-of": [3, 4, 5]}},
                    "runspacepool-state": {"runspaceState": {"one-of": [3, 5]}}}, "within": "4s", "note": note},
    ]


def start_pipeline(pid=P1, no_input=True, cmd="Get-Date", oop=True, extra=None):
    steps = []
    if oop:
        steps += [{"send": {"oop.command": {"psGuid": pid}}},
                  {"expect": {"oop.command-ack": {"psGuid": pid}}, "within": "3s"}]
    body = {"pid": pid, "noInput": no_input, "commands": [{"cmd": cmd}]}
    if extra:
        body.update(extra)
    steps.append({"send": {"create-pipeline": body}})
    return steps


def completes(pid=P1, state=4):
    return {"expect": {"pipeline-state": {"pid": pid, "pipelineState": state}}, "within": "3s"}


def line(payload, psguid=NIL):
    return data_line(payload, psguid)


def preludes():
    prelude("open", "Open a RunspacePool on the server: SESSION_CAPABILITY, INIT_RUNSPACEPOOL (min 1, max 1), "
            "then APPLICATION_PRIVATE_DATA and RUNSPACEPOOL_STATE Opened (MS-PSRP §3.2.5.4.1-2, §3.2.5.4.13, §3.2.5.4.9)", [
        {"send": {"session-capability": {}}},
        {"expect": {"session-capability": CAP_OK}, "within": "3s",
         "note": "the server answers the client's capability with its own (§3.2.5.4.1.2)"},
        {"send": {"init-runspacepool": {"minRunspaces": 1, "maxRunspaces": 1}}},
        {"expect": {"application-private-data": {}}, "within": "3s",
         "note": "APPLICATION_PRIVATE_DATA MUST follow INIT_RUNSPACEPOOL (§3.2.5.4.13)"},
        {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s",
         "note": "RUNSPACEPOOL_STATE Opened MUST be sent when the pool opens (§3.2.5.4.9)"},
    ])
    prelude("open-max2", "Open a RunspacePool with up to two runspaces (INIT_RUNSPACEPOOL min 1, max 2)", [
        {"send": {"session-capability": {}}},
        {"expect": {"session-capability": CAP_OK}, "within": "3s"},
        {"send": {"init-runspacepool": {"minRunspaces": 1, "maxRunspaces": 2}}},
        {"expect": {"application-private-data": {}}, "within": "3s"},
        {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s"},
    ])
    prelude("negotiated", "Exchange SESSION_CAPABILITY only: the pool is in NegotiationSucceeded (§3.2.5.4.1)", [
        {"send": {"session-capability": {}}},
        {"expect": {"session-capability": CAP_OK}, "within": "3s"},
    ])


def capability():
    S = "MS-PSRP §3.2.5.4.1.2 SESSION_CAPABILITY, sending to the client"
    scenario("psrp.capability.answer", "The server answers SESSION_CAPABILITY with its own: PSVersion 2.0, SerializationVersion 1.1.0.1, a 2.x protocol version",
             S, "If expected versions have been received from the client, then the PowerShell server MUST send a SESSION_CAPABILITY message in response; PSVersion MUST be 2.0; SerializationVersion MUST be 1.1.0.1",
             "must", "server", ["psrp.server.capability-answer", "psrp.server.capability-versions", "psrp.msg.session-capability.fields", "psrp.header.direction"],
             ["capability", "negotiation"], [
                 {"send": {"session-capability": {}}},
                 {"expect": {"session-capability": {"protocolVersion": {"regex": "^2\\.[0-9]+$"}, "psVersion": "2.0", "serializationVersion": "1.1.0.1", "destination": "client"}}, "within": "3s"},
             ], errata=["PSRP-5"])
    scenario("psrp.capability.no-timezone", "The server's SESSION_CAPABILITY omits TimeZone",
             S, "TimeZone: The TimeZone property MUST be omitted.", "must", "server",
             ["psrp.server.capability-timezone"], ["capability"], [
                 {"send": {"session-capability": {}}},
                 {"expect": {"session-capability": {"timeZone": {"absent": True}}}, "within": "3s"},
             ])
    scenario("psrp.capability.zero-rpid-normal", "The server's SESSION_CAPABILITY may carry an all-zero RPID or the pool's: either is accepted",
             "ERRATA PSRP-8", "The server's SESSION_CAPABILITY carries an all-zero RPID when a pool is opened; that is normal",
             "must", "server", ["psrp.header.rpid-zero-capability", "psrp.header.rpid"], ["capability", "errata"], [
                 {"send": {"session-capability": {}}},
                 {"expect": {"session-capability": {"rpid": {"one-of": [NIL, RPID]}}}, "within": "3s"},
             ], errata=["PSRP-8"])
    scenario("psrp.capability.client-2-0", "A client announcing protocol 2.0 is answered with 2.0",
             S, "protocolversion MUST be 2.0 when client sent protocolversion=2.0", "should", "server",
             ["psrp.server.capability-protocolversion"], ["capability", "version"], [
                 {"send": {"session-capability": {"protocolVersion": "2.0"}}},
                 {"expect": {"session-capability": {"protocolVersion": "2.0"}}, "within": "3s"},
             ], profiles=["psrp-2.0"])
    for v in ["2.1", "2.2", "2.3", "2.4"]:
        scenario(f"psrp.capability.client-{v.replace('.', '-')}", f"A client announcing protocol {v} is answered with a 2.x capability and the pool opens",
                 S + "; ERRATA PSRP-5", "If expected versions are received from the client, the server changes the RunspacePool state to NegotiationSucceeded; [it] MUST send a SESSION_CAPABILITY message in response",
                 "must", "server", ["psrp.server.capability-answer", "psrp.server.state-opened"], ["capability", "version"], [
                     {"send": {"session-capability": {"protocolVersion": v}}},
                     {"expect": {"session-capability": {"protocolVersion": {"regex": "^2\\.[0-9]+$"}}}, "within": "3s"},
                     {"send": {"init-runspacepool": {}}},
                     {"expect": {"application-private-data": {}}, "within": "3s"},
                     {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s"},
                 ], profiles=[f"psrp-{v}"], errata=["PSRP-5"])
    for name, ver, title in [("version-1-0", "1.0", "protocol 1.0"), ("version-3-0", "3.0", "protocol 3.0 (an unknown major version)"),
                             ("version-garbage", "x.y", "a protocol version that is not a version")]:
        scenario(f"psrp.capability.{name}", f"A client announcing {title} is refused: the pool breaks",
                 "MS-PSRP §3.2.5.4.1.1 SESSION_CAPABILITY, receiving from the client",
                 "If expected versions are received from the client, the PowerShell server changes the RunspacePool state to NegotiationSucceeded. Otherwise the server MUST change the RunspacePool state to Broken.",
                 "must", "server", ["psrp.server.capability-broken"], ["capability", "version", "negative"], [
                     {"send": {"session-capability": {"protocolVersion": ver}}},
                     CLOSE_PRE_OPEN,
                 ])
    scenario("psrp.capability.twice", "A second SESSION_CAPABILITY (pool in NegotiationSucceeded) is out of state: the pool breaks",
             "MS-PSRP §3.2.5.4.1.1; §3.2.5.1 rule 3", "When this message is processed, the RunspacePool MUST be in the BeforeOpen state; a message in the wrong state closes the RunspacePool",
             "must", "server", ["psrp.server.capability-state", "psrp.server.wrong-state-closes"], ["capability", "state", "negative"], [
                 {"include": "psrp/negotiated"},
                 {"send": {"session-capability": {}}},
                 CLOSE_PRE_OPEN,
             ])
    scenario("psrp.capability.twice-after-open", "SESSION_CAPABILITY on an open pool is out of state: the pool is closed",
             "MS-PSRP §3.2.5.4.1.1; §3.2.5.1 rule 3; §3.2.5.2 rule 7", "When this message is processed, the RunspacePool MUST be in the BeforeOpen state; the server MUST close the RunspacePool and send RUNSPACEPOOL_STATE",
             "must", "server", ["psrp.server.capability-state", "psrp.server.wrong-state-closes", "psrp.server.close-sends-state"], ["capability", "state", "negative"], [
                 OPEN, {"send": {"session-capability": {}}}, POOL_BROKEN,
             ])
    for name, fault, title in [("split", [{"split": 7}], "in seven writes"), ("byte-by-byte", [{"slice": 1}], "one byte at a time"),
                               ("delayed", [{"delay": "50ms"}], "after a 50 ms delay"),
                               ("slow-link", [{"latency": {"delay": "20ms", "jitter": "10ms"}}, {"split": 4}], "over a slow link in four writes")]:
        scenario(f"psrp.capability.{name}", f"SESSION_CAPABILITY delivered {title} is one message",
                 "MS-PSRP §2.2.4 Packet Fragment; §3.2.5.1.2 Rules for Receiving Data",
                 "The receiver appends each fragment's blob and completes the message at the End fragment, however the bytes arrive",
                 "must", "server", ["psrp.fragment.reassemble-any-split", "psrp.server.capability-answer"], ["capability", "faults", "transport"], [
                     {"send": {"session-capability": {}}, "fault": fault},
                     {"expect": {"session-capability": CAP_OK}, "within": "3s"},
                 ])
    scenario("psrp.capability.bom-absent", "Message Data without a UTF-8 BOM is accepted",
             "ERRATA PSRP-4", "PowerShell starts message Data with a UTF-8 BOM (EF BB BF); receivers accept data with or without it",
             "must", "server", ["psrp.header.bom-optional"], ["capability", "errata", "bom"], [
                 {"send": {"session-capability": {"bom": False}}},
                 {"expect": {"session-capability": CAP_OK}, "within": "3s"},
                 {"send": {"init-runspacepool": {"bom": False}}},
                 {"expect": {"application-private-data": {}}, "within": "3s"},
                 {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s"},
             ], errata=["PSRP-4"], params={"bom": "false"})
    scenario("psrp.capability.bom-present", "Message Data starting with a UTF-8 BOM is accepted (as PowerShell writes it)",
             "ERRATA PSRP-4", "PowerShell starts message Data with a UTF-8 BOM (EF BB BF); receivers accept data with or without it",
             "must", "server", ["psrp.header.bom-optional"], ["capability", "errata", "bom"], [
                 {"send": {"session-capability": {"bom": True}}},
                 {"expect": {"session-capability": CAP_OK}, "within": "3s"},
                 {"send": {"init-runspacepool": {"bom": True}}},
                 {"expect": {"application-private-data": {}}, "within": "3s"},
                 {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s"},
             ], errata=["PSRP-4"])
    scenario("psrp.capability.bom-mixed", "BOM on one message and not on the next: both accepted",
             "ERRATA PSRP-4", "receivers accept data with or without it", "must", "server",
             ["psrp.header.bom-optional"], ["capability", "errata", "bom"], [
                 {"send": {"session-capability": {"bom": False}}},
                 {"expect": {"session-capability": CAP_OK}, "within": "3s"},
                 {"send": {"init-runspacepool": {"bom": True}}},
                 {"expect": {"application-private-data": {}}, "within": "3s"},
                 {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s"},
                 {"send": {"get-available-runspaces": {"ci": 3, "bom": False}}},
                 avail(3),
             ], errata=["PSRP-4"])
    scenario("psrp.capability.init-first", "INIT_RUNSPACEPOOL before SESSION_CAPABILITY: the server refuses to open the pool",
             "MS-PSRP §3.1.5.4.1.1; §3.2.5.4.2", "The SESSION_CAPABILITY message MUST be the first message sent to the server; when INIT_RUNSPACEPOOL is processed the RunspacePool MUST be in the NegotiationSucceeded state",
             "must", "server", ["psrp.server.capability-first", "psrp.server.init-state"], ["capability", "state", "negative"], [
                 {"send": {"init-runspacepool": {}}},
                 CLOSE_PRE_OPEN,
             ])
    scenario("psrp.capability.destination-client", "SESSION_CAPABILITY addressed to the client (Destination 1) is not taken by the server",
             "MS-PSRP §2.2.1 Destination; ERRATA PSRP-7", "Destination 0x00000001: the message is targeted to a client; PowerShell checks the destination as a bitmask",
             "must", "server", ["psrp.header.destination-checked", "psrp.header.destination-values"], ["capability", "destination", "negative"], [
                 {"send": {"session-capability": {"destination": "client"}}},
                 CLOSE_PRE_OPEN,
             ], errata=["PSRP-7"])


def pool():
    S = "MS-PSRP §3.2.5.4.2 INIT_RUNSPACEPOOL; §3.2.5.4.13; §3.2.5.4.9"
    scenario("psrp.pool.open", "INIT_RUNSPACEPOOL opens the pool: APPLICATION_PRIVATE_DATA, then RUNSPACEPOOL_STATE Opened",
             S, "APPLICATION_PRIVATE_DATA MUST be sent when the RunspacePool state is NegotiationSucceeded and the server receives INIT_RUNSPACEPOOL; RUNSPACEPOOL_STATE MUST be sent when the state changes to Opened",
             "must", "server", ["psrp.server.private-data", "psrp.server.state-opened", "psrp.msg.init-runspacepool.fields", "psrp.msg.runspacepool-state.fields"],
             ["pool", "open"], [OPEN])
    scenario("psrp.pool.open-rpid", "Pool messages carry the client's RPID and are addressed to the client",
             "MS-PSRP §2.2.1 RPID, Destination", "RPID: the instance ID of the RunspacePool on the client; Destination 0x00000001: targeted to a client",
             "must", "server", ["psrp.header.rpid", "psrp.header.destination-values", "psrp.header.guid-order"], ["pool", "header"], [
                 {"include": "psrp/negotiated"},
                 {"send": {"init-runspacepool": {}}},
                 {"expect": {"application-private-data": {"rpid": RPID, "destination": "client", "pid": NIL}}, "within": "3s"},
                 {"expect": {"runspacepool-state": {"runspaceState": 2, "rpid": RPID, "destination": "client", "pid": NIL}}, "within": "3s"},
             ], errata=["PSRP-3"])
    scenario("psrp.pool.open-other-rpid", "A pool opened under another RPID: the server's messages carry that RPID",
             "MS-PSRP §2.2.1 RPID", "RPID (16 bytes): A globally unique identifier (GUID) specifying the instance ID of the RunspacePool on the client",
             "must", "server", ["psrp.header.rpid", "psrp.header.guid-order"], ["pool", "header"], [
                 {"send": {"session-capability": {}}},
                 {"expect": {"session-capability": CAP_OK}, "within": "3s"},
                 {"send": {"init-runspacepool": {}}},
                 {"expect": {"application-private-data": {"rpid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}}, "within": "3s"},
                 {"expect": {"runspacepool-state": {"runspaceState": 2, "rpid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}}, "within": "3s"},
                 {"send": {"get-available-runspaces": {"ci": 1}}},
                 {"expect": {"runspace-availability": {"ci": 1, "rpid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}}, "within": "3s"},
             ], params={"rpid": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}, errata=["PSRP-3"])
    scenario("psrp.pool.init-twice", "A second INIT_RUNSPACEPOOL on an open pool is out of state: the pool is closed",
             "MS-PSRP §3.2.5.4.2; §3.2.5.1 rule 3", "When this message is processed, the RunspacePool's state MUST be in the NegotiationSucceeded state",
             "must", "server", ["psrp.server.init-state", "psrp.server.wrong-state-closes", "psrp.server.close-sends-state"], ["pool", "state", "negative"], [
                 OPEN, {"send": {"init-runspacepool": {}}}, POOL_BROKEN,
             ])
    scenario("psrp.pool.init-split", "INIT_RUNSPACEPOOL in three writes still opens the pool",
             S, "The receiver completes a message at its End fragment, however the bytes arrive", "must", "server",
             ["psrp.fragment.reassemble-any-split", "psrp.server.state-opened"], ["pool", "faults"], [
                 {"include": "psrp/negotiated"},
                 {"send": {"init-runspacepool": {}}, "fault": [{"split": 3}]},
                 {"expect": {"application-private-data": {}}, "within": "3s"},
                 {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s"},
             ])
    scenario("psrp.pool.init-host-info", "INIT_RUNSPACEPOOL with HostInfo and ApplicationArguments opens the pool",
             "MS-PSRP §2.2.2.2 INIT_RUNSPACEPOOL", "Thread options, apartment state, host info and application arguments are provided by the higher layer; PSRP MUST NOT interpret this data",
             "must", "server", ["psrp.msg.init-runspacepool.fields", "psrp.server.state-opened"], ["pool", "open"], [
                 {"include": "psrp/negotiated"},
                 {"send": {"init-runspacepool": {"minRunspaces": 1, "maxRunspaces": 3, "psThreadOptions": 0, "apartmentState": 2,
                                                 "hostInfo": {"Obj": {"ms": [{"name": "_isHostNull", "value": {"B": True}}, {"name": "_isHostUINull", "value": {"B": True}},
                                                                              {"name": "_isHostRawUINull", "value": {"B": True}}, {"name": "_useRunspaceHost", "value": {"B": True}}]}}}}},
                 {"expect": {"application-private-data": {}}, "within": "3s"},
                 {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s"},
             ])
    # ---- SET_MAX / SET_MIN / GET_AVAILABLE / RESET
    S6 = "MS-PSRP §3.2.5.4.6 SET_MAX_RUNSPACES; §3.2.5.4.8"
    scenario("psrp.pool.set-max-ci", "SET_MAX_RUNSPACES is answered with RUNSPACE_AVAILABILITY carrying the same ci and a Boolean",
             S6, "The PowerShell server MUST extract the \"ci\" (call id) value from the message and use it for sending a response using RUNSPACE_AVAILABILITY message",
             "must", "server", ["psrp.server.set-max-ci", "psrp.server.availability-ci", "psrp.msg.runspace-availability.fields"], ["pool", "runspaces"], [
                 OPEN, {"send": {"set-max-runspaces": {"maxRunspaces": 4, "ci": 17}}},
                 {"expect": {"runspace-availability": {"ci": 17, "setMinMaxRunspacesResponse": {"one-of": [True, False]}}}, "within": "3s"},
             ])
    scenario("psrp.pool.set-max-accepted", "SET_MAX_RUNSPACES within the limits (max 4 ≥ min 1) is accepted",
             S6 + "; §3.2.1.2.9", "The number of runspaces in the RunspacePool MUST be within the limits expressed by the minimum and maximum numbers",
             "should", "server", ["psrp.server.minmax-limits", "psrp.server.set-max-ci"], ["pool", "runspaces"], [
                 OPEN, {"send": {"set-max-runspaces": {"maxRunspaces": 4, "ci": 2}}},
                 {"expect": {"runspace-availability": {"ci": 2, "setMinMaxRunspacesResponse": True}}, "within": "3s"},
             ])
    scenario("psrp.pool.set-max-below-min", "SET_MAX_RUNSPACES below the minimum (0 < 1) is refused with false",
             S6 + "; §3.2.1.2.9", "The number of runspaces in the RunspacePool MUST be within the limits expressed by the minimum and maximum numbers",
             "should", "server", ["psrp.server.minmax-limits", "psrp.server.set-max-ci"], ["pool", "runspaces", "negative"], [
                 OPEN, {"send": {"set-max-runspaces": {"maxRunspaces": 0, "ci": 3}}},
                 {"expect": {"runspace-availability": {"ci": 3, "setMinMaxRunspacesResponse": False}}, "within": "3s"},
             ])
    scenario("psrp.pool.set-max-before-open", "SET_MAX_RUNSPACES before the pool is open is out of state",
             S6, "The RunspacePool MUST be in an Opened state while processing this message", "must", "server",
             ["psrp.server.set-max-state", "psrp.server.wrong-state-closes"], ["pool", "state", "negative"], [
                 {"include": "psrp/negotiated"}, {"send": {"set-max-runspaces": {"maxRunspaces": 2, "ci": 1}}}, CLOSE_PRE_OPEN,
             ])
    scenario("psrp.pool.set-max-keeps-pipeline", "SET_MAX_RUNSPACES while a pipeline runs does not stop it",
             S6, "The PowerShell server MUST NOT stop any executing pipelines because of this message", "must", "server",
             ["psrp.server.set-max-no-stop", "psrp.server.set-max-ci"], ["pool", "runspaces", "pipeline"],
             [OPEN] + start_pipeline(no_input=False) + [
                 {"send": {"set-max-runspaces": {"maxRunspaces": 3, "ci": 8}}},
                 {"expect": {"runspace-availability": {"ci": 8}}, "within": "3s"},
                 {"send": {"end-of-pipeline-input": {"pid": P1}}},
                 completes(),
             ], ignore=RUN_IGNORE)
    S7 = "MS-PSRP §3.2.5.4.7 SET_MIN_RUNSPACES; §3.2.5.4.8"
    scenario("psrp.pool.set-min-ci", "SET_MIN_RUNSPACES is answered with RUNSPACE_AVAILABILITY carrying the same ci",
             S7, "The PowerShell server MUST extract the \"ci\" (call id) value from the message and use it for sending a response using RUNSPACE_AVAILABILITY message",
             "must", "server", ["psrp.server.set-min-ci", "psrp.server.availability-ci"], ["pool", "runspaces"], [
                 OPEN, {"send": {"set-min-runspaces": {"minRunspaces": 1, "ci": 21}}},
                 {"expect": {"runspace-availability": {"ci": 21, "setMinMaxRunspacesResponse": {"one-of": [True, False]}}}, "within": "3s"},
             ])
    scenario("psrp.pool.set-min-above-max", "SET_MIN_RUNSPACES above the maximum (10 > 1) is refused with false",
             S7 + "; §3.2.1.2.9", "The number of runspaces in the RunspacePool MUST be within the limits expressed by the minimum and maximum numbers",
             "should", "server", ["psrp.server.minmax-limits", "psrp.server.set-min-ci"], ["pool", "runspaces", "negative"], [
                 OPEN, {"send": {"set-min-runspaces": {"minRunspaces": 10, "ci": 4}}},
                 {"expect": {"runspace-availability": {"ci": 4, "setMinMaxRunspacesResponse": False}}, "within": "3s"},
             ])
    scenario("psrp.pool.set-min-before-open", "SET_MIN_RUNSPACES before the pool is open is out of state",
             S7, "The RunspacePool MUST be in the Opened state while processing this message", "must", "server",
             ["psrp.server.set-min-state", "psrp.server.wrong-state-closes"], ["pool", "state", "negative"], [
                 {"include": "psrp/negotiated"}, {"send": {"set-min-runspaces": {"minRunspaces": 1, "ci": 1}}}, CLOSE_PRE_OPEN,
             ])
    scenario("psrp.pool.set-min-first-message", "SET_MIN_RUNSPACES as the very first message is refused",
             S7 + "; §3.1.5.4.1.1", "The SESSION_CAPABILITY message MUST be the first message sent to the server", "must", "server",
             ["psrp.server.capability-first", "psrp.server.set-min-state"], ["pool", "state", "negative"], [
                 {"send": {"set-min-runspaces": {"minRunspaces": 1, "ci": 1}}}, CLOSE_PRE_OPEN,
             ])
    S11 = "MS-PSRP §3.2.5.4.11 GET_AVAILABLE_RUNSPACES; §2.2.2.8"
    scenario("psrp.pool.get-available", "GET_AVAILABLE_RUNSPACES is answered with the same ci and a count",
             S11, "The PowerShell server MUST extract the \"ci\" (call id) value from the message and use it for sending a response using the RUNSPACE_AVAILABILITY message",
             "must", "server", ["psrp.server.get-available-ci", "psrp.server.availability-ci", "psrp.msg.runspace-availability.fields"], ["pool", "runspaces"], [
                 OPEN, {"send": {"get-available-runspaces": {"ci": 5}}},
                 {"expect": {"runspace-availability": {"ci": 5, "setMinMaxRunspacesResponse": {"range": [0, 1]}}}, "within": "3s"},
             ])
    scenario("psrp.pool.get-available-max4", "With max 4 and nothing running, the available count is within 0..4",
             S11 + "; §3.2.1.2.9", "SetMinMaxRunspacesResponse: the number of available runspaces (within the pool's limits)",
             "must", "server", ["psrp.server.get-available-ci", "psrp.server.minmax-limits"], ["pool", "runspaces"], [
                 {"include": "psrp/negotiated"},
                 {"send": {"init-runspacepool": {"minRunspaces": 1, "maxRunspaces": 4}}},
                 {"expect": {"application-private-data": {}}, "within": "3s"},
                 {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s"},
                 {"send": {"get-available-runspaces": {"ci": 6}}},
                 {"expect": {"runspace-availability": {"ci": 6, "setMinMaxRunspacesResponse": {"range": [0, 4]}}}, "within": "3s"},
             ])
    scenario("psrp.pool.get-available-before-open", "GET_AVAILABLE_RUNSPACES before the pool is open is out of state",
             S11, "The RunspacePool MUST be in an Opened state while processing this message", "must", "server",
             ["psrp.server.get-available-state", "psrp.server.wrong-state-closes"], ["pool", "state", "negative"], [
                 {"include": "psrp/negotiated"}, {"send": {"get-available-runspaces": {"ci": 1}}}, CLOSE_PRE_OPEN,
             ])
    scenario("psrp.pool.ci-order", "Three requests in a row are answered in order, each with its own ci",
             S11 + "; §3.2.1.2.4 FIFO", "The PowerShell server MUST maintain a first in, first out (FIFO) queue of messages; the ci of each answer is the ci of its request",
             "must", "server", ["psrp.server.fifo", "psrp.server.availability-ci"], ["pool", "runspaces"], [
                 OPEN,
                 {"send": {"get-available-runspaces": {"ci": 101}}},
                 {"send": {"set-max-runspaces": {"maxRunspaces": 2, "ci": 102}}},
                 {"send": {"get-available-runspaces": {"ci": 103}}},
                 avail(101), avail(102), avail(103),
             ])
    scenario("psrp.pool.ci-large", "A call id beyond 32 bits is echoed unchanged",
             S11, "use the same value in the \"ci\" portion of the message (ci is a signed long)", "must", "server",
             ["psrp.server.availability-ci"], ["pool", "runspaces"], [
                 OPEN, {"send": {"get-available-runspaces": {"ci": 1099511627776}}}, avail(1099511627776),
             ])
    scenario("psrp.pool.ci-zero", "A call id of 0 is echoed unchanged",
             S11, "use the same value in the \"ci\" portion of the message", "must", "server",
             ["psrp.server.availability-ci"], ["pool", "runspaces"], [
                 OPEN, {"send": {"get-available-runspaces": {"ci": 0}}}, avail(0),
             ])
    scenario("psrp.pool.reset-runspace-state", "RESET_RUNSPACE_STATE (0x0002100C) is answered with RUNSPACE_AVAILABILITY carrying its ci",
             "MS-PSRP §2.2.1 current table; ERRATA PSRP-1", "RESET_RUNSPACE_STATE 0x0002100C: Reset RunspacePool Runspace state; Direction: client to server",
             "must", "server", ["psrp.server.reset-runspace-state", "psrp.header.current-table"], ["pool", "runspaces", "errata"], [
                 OPEN, {"send": {"reset-runspace-state": {"ci": 31}}},
                 {"expect": {"runspace-availability": {"ci": 31}}, "within": "3s"},
             ], profiles=["psrp-2.3", "psrp-2.4"], errata=["PSRP-1"])
    scenario("psrp.pool.reset-before-open", "RESET_RUNSPACE_STATE before the pool is open is out of state",
             "MS-PSRP §2.2.1 current table; §3.2.5.1 rule 3", "A message for a RunspacePool that is not in the correct state closes the RunspacePool",
             "must", "server", ["psrp.server.wrong-state-closes"], ["pool", "state", "negative"], [
                 {"include": "psrp/negotiated"}, {"send": {"reset-runspace-state": {"ci": 1}}}, CLOSE_PRE_OPEN,
             ], profiles=["psrp-2.3", "psrp-2.4"])
    # ---- CONNECT_RUNSPACEPOOL
    S28 = "MS-PSRP §2.2.2.28 CONNECT_RUNSPACEPOOL; §3.2.5.4.29; ERRATA PSRP-1"
    scenario("psrp.pool.connect", "CONNECT_RUNSPACEPOOL (0x00010008) is answered with RUNSPACEPOOL_INIT_DATA (0x0002100B)",
             S28, "The PowerShell server MUST send this message as a response to a CONNECT_RUNSPACEPOOL message targeted to a RunspacePool",
             "must", "server", ["psrp.server.connect-init-data", "psrp.header.current-table"], ["pool", "connect", "errata"], [
                 {"include": "psrp/negotiated"},
                 {"send": {"connect-runspacepool": {}}},
                 {"expect": {"runspacepool-init-data": {"minRunspaces": {"range": [0, None]}, "maxRunspaces": {"range": [1, None]}}}, "within": "3s"},
             ], errata=["PSRP-1"])
    scenario("psrp.pool.connect-minmax", "CONNECT_RUNSPACEPOOL with new limits: RUNSPACEPOOL_INIT_DATA reports them",
             S28, "CONNECT_RUNSPACEPOOL optionally carries MinRunspaces/MaxRunspaces; RUNSPACEPOOL_INIT_DATA carries the pool's limits",
             "should", "server", ["psrp.server.connect-init-data"], ["pool", "connect", "errata"], [
                 {"include": "psrp/negotiated"},
                 {"send": {"connect-runspacepool": {"minRunspaces": 1, "maxRunspaces": 3}}},
                 {"expect": {"runspacepool-init-data": {"minRunspaces": 1, "maxRunspaces": 3}}, "within": "3s"},
             ], errata=["PSRP-1"])
    scenario("psrp.pool.connect-2013-type", "The 2013 table's CONNECT_RUNSPACEPOOL value 0x00010030 is not taken as a connect",
             "ERRATA PSRP-1", "CONNECT_RUNSPACEPOOL = 0x00010008; the 2013 text's table value 0x00010030 is wrong",
             "should", "server", ["psrp.header.current-table", "psrp.header.unknown-type"], ["pool", "connect", "errata", "negative"], [
                 {"include": "psrp/negotiated"},
                 {"send": {"unknown": {"messageType": 0x00010030, "clixml": "<S></S>"}}},
                 CLOSE_PRE_OPEN,
             ], errata=["PSRP-1"])
    scenario("psrp.pool.unknown-type", "An unknown message type on an open pool is ignored or closes the pool; it is never answered as another message",
             "MS-PSRP §2.2.1 MessageType", "The value of this field specifies what action MUST be taken by the client or server upon receipt",
             "must", "server", ["psrp.header.unknown-type", "psrp.header.messagetype-action"], ["pool", "negative"],
             [OPEN] + tolerant(9, "an unknown type is ignored (the request is answered) or closes the pool", {"unknown": {"messageType": 0x00021099, "clixml": "<S>x</S>", "objectId": 3000}}), params={"framing": "outofproc"})
    scenario("psrp.pool.init-data-from-client", "RUNSPACEPOOL_INIT_DATA (server-to-client) sent to the server is refused",
             "MS-PSRP §2.2.1 current table (Direction: server to client)", "RUNSPACEPOOL_INIT_DATA 0x0002100B; Direction: Server to client",
             "must", "server", ["psrp.header.direction", "psrp.server.wrong-state-closes"], ["pool", "direction", "negative"], [
                 OPEN] + tolerant(10, "a server-to-client type from the client is ignored or closes the pool",
                                  {"unknown": {"messageType": 0x0002100B, "objectId": 3000, "clixml": "<Obj RefId=\"0\"><MS><I32 N=\"MinRunspaces\">1</I32><I32 N=\"MaxRunspaces\">1</I32></MS></Obj>"}}),
             params={"framing": "outofproc"})
    scenario("psrp.pool.destination-client", "A pool message with Destination = client is not processed by the server",
             "MS-PSRP §2.2.1 Destination; ERRATA PSRP-7", "Destination 0x00000001: the message is targeted to a client; the destination is checked as a bitmask",
             "must", "server", ["psrp.header.destination-checked"], ["pool", "destination", "negative"], [
                 OPEN, {"send": {"get-available-runspaces": {"ci": 11, "destination": "client"}}}, POOL_BROKEN,
             ], errata=["PSRP-7"])
    scenario("psrp.pool.destination-zero", "A pool message with Destination 0 (neither side) is not processed",
             "MS-PSRP §2.2.1 Destination; ERRATA PSRP-7", "Possible values: 0x00000001 client, 0x00000002 server; PowerShell tests the receiving role's bit",
             "should", "server", ["psrp.header.destination-checked", "psrp.header.destination-values"], ["pool", "destination", "negative"], [
                 OPEN, {"send": {"get-available-runspaces": {"ci": 12, "destination": 0}}}, POOL_BROKEN,
             ], errata=["PSRP-7"])
    scenario("psrp.pool.destination-bitmask", "Destination 3 (both bits) is accepted by a bitmask check, as PowerShell does",
             "ERRATA PSRP-7", "the destination is checked as a bitmask", "may", "server",
             ["psrp.header.destination-checked"], ["pool", "destination", "errata"], [
                 OPEN, {"send": {"get-available-runspaces": {"ci": 13, "destination": 3}}}, avail(13),
             ], errata=["PSRP-7"])
    scenario("psrp.pool.close", "OutOfProc <Close> of the pool (all-zero PSGuid) is acknowledged with <CloseAck>",
             "PowerShell OutOfProc transport; MS-PSRP §3.2.5.4.9", "The server answers <Close PSGuid=0…/> with <CloseAck PSGuid=0…/>; RUNSPACEPOOL_STATE MAY be sent when the state changes to Closed",
             "must", "server", ["psrp.oop.close-ack", "psrp.server.state-closed"], ["pool", "close", "outofproc"], [
                 OPEN, {"send": {"oop.close": {"psGuid": NIL}}},
                 {"expect": {"oop.close-ack": {"psGuid": NIL}}, "within": "3s"},
             ], params={"framing": "outofproc"}, ignore=["runspacepool-state"])
    scenario("psrp.pool.close-then-session-ends", "After the pool's CloseAck the server ends the session (or stays silent)",
             "PowerShell OutOfProc transport; MS-PSRP §3.2.5.2 rule 8", "When a RunspacePool is in a Closed state, that specific RunspacePool is not allowed for executing pipelines",
             "should", "server", ["psrp.oop.close-ack", "psrp.server.state-closed"], ["pool", "close", "outofproc"], [
                 OPEN, {"send": {"oop.close": {"psGuid": NIL}}},
                 {"expect": {"oop.close-ack": {"psGuid": NIL}}, "within": "3s"},
                 {"expect-close": {"within": "3s", "allow": ["runspacepool-state"]}},
             ], params={"framing": "outofproc"}, ignore=["runspacepool-state"])
    scenario("psrp.pool.close-before-open", "<Close> right after the capability exchange is acknowledged",
             "PowerShell OutOfProc transport", "The server answers <Close PSGuid=0…/> with <CloseAck/>", "should", "server",
             ["psrp.oop.close-ack"], ["pool", "close", "outofproc"], [
                 {"include": "psrp/negotiated"}, {"send": {"oop.close": {"psGuid": NIL}}},
                 {"expect": {"oop.close-ack": {"psGuid": NIL}}, "within": "3s"},
             ], params={"framing": "outofproc"}, ignore=["runspacepool-state"])


def keyx():
    S3 = "MS-PSRP §2.2.2.3 PUBLIC_KEY; §3.2.5.4.4 ENCRYPTED_SESSION_KEY"
    scenario("psrp.keyx.public-key", "PUBLIC_KEY on an open pool is answered with ENCRYPTED_SESSION_KEY",
             S3, "The PowerShell server MUST send this message to the client as a response to the PUBLIC_KEY message",
             "must", "server", ["psrp.server.encrypted-key-answer", "psrp.msg.encrypted-session-key.format", "psrp.msg.public-key.format"], ["keyx"], [
                 OPEN, {"send": {"public-key": {"publicKey": PUBKEY}}},
                 {"expect": {"encrypted-session-key": {"encryptedSessionKey": {"regex": "^[A-Za-z0-9+/]+={0,2}$"}}}, "within": "3s"},
             ], profiles=PROF_KEYX)
    scenario("psrp.keyx.session-key-rpid-zero", "ENCRYPTED_SESSION_KEY carries an all-zero RPID",
             "MS-PSRP §3.2.5.4.4 ENCRYPTED_SESSION_KEY", "The RPID field (as specified in section 2.2.1) of this message MUST be zeroed out.",
             "must", "server", ["psrp.server.encrypted-key-rpid-zero"], ["keyx", "header"], [
                 OPEN, {"send": {"public-key": {"publicKey": PUBKEY}}},
                 {"expect": {"encrypted-session-key": {"rpid": NIL, "pid": NIL}}, "within": "3s"},
             ], profiles=PROF_KEYX)
    scenario("psrp.keyx.session-key-blob", "The encrypted session key is a CAPI SIMPLEBLOB (bType 1) of a 256-byte RSA ciphertext",
             "MS-PSRP §2.2.2.4 ENCRYPTED_SESSION_KEY", "EncryptedSessionKey: base64 of the 256-bit session key encrypted with the client's 2048-bit public key (SIMPLEBLOB)",
             "must", "server", ["psrp.msg.encrypted-session-key.format"], ["keyx"], [
                 OPEN, {"send": {"public-key": {"publicKey": PUBKEY}}},
                 {"expect": {"encrypted-session-key": {"encryptedSessionKey": {"regex": "^AQIAABBmAAAApAAA[A-Za-z0-9+/]{342}==$"}}}, "within": "3s"},
             ], profiles=PROF_KEYX)
    scenario("psrp.keyx.public-key-split", "PUBLIC_KEY split over many small fragments is reassembled and answered",
             S3 + "; §2.2.4", "The receiver completes a message at its End fragment", "must", "server",
             ["psrp.server.encrypted-key-answer", "psrp.fragment.reassemble-any-split"], ["keyx", "fragment"], [
                 OPEN, {"send": {"public-key": {"publicKey": PUBKEY}}},
                 {"expect": {"encrypted-session-key": {}}, "within": "3s"},
             ], profiles=PROF_KEYX, params={"max-fragment-size": "100"})
    scenario("psrp.keyx.public-key-2-4", "With 2.4 a PUBLIC_KEY is still answered when a client sends one",
             "ERRATA PSRP-5; MS-PSRP §3.2.5.4.4", "The PowerShell server MUST send [ENCRYPTED_SESSION_KEY] as a response to the PUBLIC_KEY message; 2.4 drops the exchange only when both sides speak 2.4 and neither asks",
             "should", "server", ["psrp.server.encrypted-key-answer", "psrp.client.no-exchange-2.4"], ["keyx", "errata"], [
                 OPEN, {"send": {"public-key": {"publicKey": PUBKEY, "bom": True}}},
                 {"expect": {"encrypted-session-key": {}}, "within": "3s"},
             ], profiles=["psrp-2.4"], errata=["PSRP-5"])
    scenario("psrp.keyx.public-key-garbage", "A PUBLIC_KEY that is not a key blob closes the pool",
             "MS-PSRP §3.2.7; §3.2.5.1", "If there are any errors while processing a RunspacePool message, then that RunspacePool MUST be Closed",
             "should", "server", ["psrp.server.bad-public-key"], ["keyx", "negative"], [
                 OPEN, {"send": {"public-key": {"publicKey": "bm90IGEga2V5"}}}, POOL_BROKEN,
             ], profiles=PROF_KEYX)
    scenario("psrp.keyx.public-key-first-message", "PUBLIC_KEY as the first message is refused",
             "MS-PSRP §3.2.5.4.3; §3.1.5.4.1.1", "The RunspacePool MUST be in an Opened state while processing this message; SESSION_CAPABILITY MUST be the first message",
             "must", "server", ["psrp.server.public-key-state", "psrp.server.capability-first"], ["keyx", "state", "negative"], [
                 {"send": {"public-key": {"publicKey": PUBKEY}}}, CLOSE_PRE_OPEN,
             ], profiles=PROF_KEYX)
    scenario("psrp.keyx.session-key-from-client", "ENCRYPTED_SESSION_KEY (server-to-client) sent to the server is refused",
             "MS-PSRP §2.2.1 (Direction: server to client)", "ENCRYPTED_SESSION_KEY 0x00010006; Direction: Server to client",
             "must", "server", ["psrp.header.direction"], ["keyx", "direction", "negative"],
             [OPEN] + tolerant(14, "a server-to-client message from the client is ignored or closes the pool",
                               {"unknown": {"messageType": 0x00010006, "objectId": 3000, "clixml": "<Obj RefId=\"0\"><MS><S N=\"EncryptedSessionKey\">AAAA</S></MS></Obj>"}}),
             params={"framing": "outofproc"})


def pipeline():
    S10 = "MS-PSRP §3.2.5.4.10 CREATE_PIPELINE; §3.2.5.4.21 PIPELINE_STATE"
    scenario("psrp.pipeline.run", "A pipeline runs to Completed: output for its PID, then PIPELINE_STATE Completed",
             S10, "The PowerShell server MUST send [PIPELINE_STATE] whenever pipeline state reaches Completed or Failed or Stopped",
             "must", "server", ["psrp.server.pipeline-state-sent", "psrp.msg.create-pipeline.fields", "psrp.server.pipeline-pid", "psrp.msg.pipeline-state.fields", "psrp.oop.command-ack"],
             ["pipeline"], [OPEN] + start_pipeline() + [
                 {"expect": {"pipeline-output": {"pid": P1, "rpid": RPID, "destination": "client"}}, "within": "3s"},
                 completes(),
             ], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.records-pid", "Every record and output of a pipeline carries the pipeline's PID",
             S10 + "; §2.2.1 PID", "PID: A GUID specifying the instance ID of the pipeline on the client", "must", "server",
             ["psrp.server.pipeline-pid", "psrp.header.pid"], ["pipeline", "header"], [OPEN] + start_pipeline() + [
                 {"expect": {n: {"pid": P1} for n in ["pipeline-output", "pipeline-state"] + RECORDS_ERR}, "within": "3s"},
                 {"expect": {n: {"pid": P1} for n in ["pipeline-output", "pipeline-state"] + RECORDS_ERR}, "within": "3s"},
             ], ignore=[])
    scenario("psrp.pipeline.no-output-after-state", "Nothing is sent for a pipeline after its PIPELINE_STATE Completed",
             "MS-PSRP §3.2.1.3.2 Pipeline State", "When the pipeline state is changed to Completed, Stopped, or Failed, the PowerShell server MUST not send any PowerShell Remoting Protocol layer messages to the PowerShell client targeted to that particular pipeline",
             "must", "server", ["psrp.server.no-messages-after-end"], ["pipeline", "state"],
             [OPEN] + start_pipeline() + [completes(), {"expect-silence": "500ms"}], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.script", "A script pipeline (IsScript) runs to a final state",
             S10, "The PowerShell server MUST send PIPELINE_STATE whenever pipeline state reaches Completed or Failed or Stopped",
             "must", "server", ["psrp.server.pipeline-state-sent", "psrp.msg.create-pipeline.fields"], ["pipeline"],
             [OPEN] + start_pipeline(cmd="'peercheck'", extra={"commands": [{"cmd": "'peercheck'", "isScript": True}]}) + [
                 {"expect": {"pipeline-state": {"pid": P1, "pipelineState": {"one-of": [4, 5]}}}, "within": "3s"},
             ], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.with-args", "A command with named and positional arguments runs to a final state",
             S10 + "; §2.2.3.12-13", "Command parameters are name/value pairs (N = Null for positional)", "must", "server",
             ["psrp.server.pipeline-state-sent", "psrp.msg.create-pipeline.fields"], ["pipeline"],
             [OPEN] + start_pipeline(extra={"commands": [{"cmd": "Write-Output", "args": [{"value": {"S": "a"}}, {"name": "NoEnumerate", "value": {"B": True}}]}]}) + [
                 {"expect": {"pipeline-state": {"pid": P1, "pipelineState": {"one-of": [4, 5]}}}, "within": "3s"},
             ], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.two-commands", "A pipeline of two commands runs to a final state",
             S10, "PowerShell (Cmds): the list of commands of the pipeline", "must", "server",
             ["psrp.server.pipeline-state-sent", "psrp.msg.create-pipeline.fields"], ["pipeline"],
             [OPEN] + start_pipeline(extra={"commands": [{"cmd": "Get-Date"}, {"cmd": "Write-Output"}]}) + [
                 {"expect": {"pipeline-state": {"pid": P1, "pipelineState": {"one-of": [4, 5]}}}, "within": "3s"},
             ], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.input", "PIPELINE_INPUT objects and END_OF_PIPELINE_INPUT complete a pipeline that takes input",
             "MS-PSRP §3.2.5.4.17 PIPELINE_INPUT; §3.2.5.4.18 END_OF_PIPELINE_INPUT", "The PowerShell server MUST process the message and send the contents as input to the pipeline; END_OF_PIPELINE_INPUT closes the input",
             "must", "server", ["psrp.server.pipeline-input", "psrp.server.end-of-input", "psrp.server.pipeline-state-sent"], ["pipeline", "input"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"pipeline-input": {"pid": P1, "value": {"S": "one"}}}},
                 {"send": {"pipeline-input": {"pid": P1, "value": {"I32": 2}}}},
                 {"send": {"end-of-pipeline-input": {"pid": P1}}},
                 completes(),
             ], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.input-waits", "A pipeline that takes input does not complete before END_OF_PIPELINE_INPUT",
             "MS-PSRP §3.2.5.4.18; §4.1.3 step 6", "If the pipeline takes input, then the client MUST send an END_OF_PIPELINE_INPUT message [the pipeline runs until then]",
             "must", "server", ["psrp.server.end-of-input"], ["pipeline", "input"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"pipeline-input": {"pid": P1, "value": {"S": "one"}}}},
                 {"expect-silence": "400ms"},
                 {"send": {"end-of-pipeline-input": {"pid": P1}}},
                 completes(),
             ], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.input-empty", "END_OF_PIPELINE_INPUT with no input objects completes the pipeline",
             "MS-PSRP §3.2.5.4.18 END_OF_PIPELINE_INPUT", "Close the input collection for the command pipeline on the server", "must", "server",
             ["psrp.server.end-of-input", "psrp.server.pipeline-state-sent"], ["pipeline", "input"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"end-of-pipeline-input": {"pid": P1}}}, completes(),
             ], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.input-many", "Fifty PIPELINE_INPUT objects are taken before the pipeline completes",
             "MS-PSRP §3.2.5.4.17 PIPELINE_INPUT", "The PowerShell server MUST process the message and send the contents as input to the pipeline", "must", "server",
             ["psrp.server.pipeline-input", "psrp.server.fifo"], ["pipeline", "input"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output")
             + [{"send": {"pipeline-input": {"pid": P1, "value": {"I32": i}}}} for i in range(50)]
             + [{"send": {"end-of-pipeline-input": {"pid": P1}}}, completes()], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.input-split", "PIPELINE_INPUT delivered byte by byte is one input object",
             "MS-PSRP §3.2.5.1.2 Rules for Receiving Data", "The receiver completes the message at its End fragment, however the bytes arrive", "must", "server",
             ["psrp.fragment.reassemble-any-split", "psrp.server.pipeline-input"], ["pipeline", "input", "faults"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"pipeline-input": {"pid": P1, "value": {"S": "sliced"}}}, "fault": [{"slice": 1}]},
                 {"send": {"end-of-pipeline-input": {"pid": P1}}, "fault": [{"split": 2}, {"delay": "30ms"}]},
                 completes(),
             ], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.before-open", "CREATE_PIPELINE before INIT_RUNSPACEPOOL is out of state: the server refuses",
             S10, "The RunspacePool MUST be in the Opened state while processing this message", "must", "server",
             ["psrp.server.pipeline-requires-opened", "psrp.server.wrong-state-closes"], ["pipeline", "state", "negative"],
             [{"include": "psrp/negotiated"}] + start_pipeline() + [CLOSE_PRE_OPEN])
    scenario("psrp.pipeline.first-message", "CREATE_PIPELINE as the very first message is refused",
             S10 + "; §3.1.5.4.1.1", "The SESSION_CAPABILITY message MUST be the first message sent to the server", "must", "server",
             ["psrp.server.pipeline-requires-opened", "psrp.server.capability-first"], ["pipeline", "state", "negative"],
             start_pipeline() + [CLOSE_PRE_OPEN], params={"framing": "outofproc"})
    scenario("psrp.pipeline.first-message-fragments", "CREATE_PIPELINE as the very first message is refused (raw fragments)",
             S10 + "; §3.1.5.4.1.1", "The SESSION_CAPABILITY message MUST be the first message sent to the server", "must", "server",
             ["psrp.server.pipeline-requires-opened", "psrp.server.capability-first"], ["pipeline", "state", "negative", "fragments"],
             start_pipeline(oop=False) + [CLOSE_PRE_OPEN], params={"framing": "fragments"})
    scenario("psrp.pipeline.input-before-open", "PIPELINE_INPUT before the pool is open is refused",
             "MS-PSRP §3.2.5.1 rules 3-5", "A message for a RunspacePool or pipeline that is not in the correct state closes the RunspacePool or stops the pipeline",
             "must", "server", ["psrp.server.wrong-state-closes"], ["pipeline", "state", "negative"], [
                 {"include": "psrp/negotiated"}, {"send": {"oop.command": {"psGuid": P1}}},
                 {"send": {"pipeline-input": {"pid": P1, "value": {"S": "early"}}}}, CLOSE_PRE_OPEN,
             ], params={"framing": "outofproc"}, ignore=["oop.command-ack"])
    scenario("psrp.pipeline.two-concurrent", "Two pipelines on a pool of two runspaces both complete, each under its own PID",
             S10 + "; §3.2.1.2.10", "The PowerShell server MUST send PIPELINE_STATE whenever pipeline state reaches Completed; pipeline messages carry their pipeline's PID",
             "must", "server", ["psrp.server.pipeline-state-sent", "psrp.server.pipeline-pid"], ["pipeline", "concurrency"],
             [{"include": "psrp/open-max2"}] + start_pipeline(P1, no_input=False, cmd="Write-Output") + start_pipeline(P2, no_input=False, cmd="Write-Output") + [
                 {"send": {"end-of-pipeline-input": {"pid": P2}}},
                 {"send": {"end-of-pipeline-input": {"pid": P1}}},
                 {"expect": {"pipeline-state": {"pid": {"one-of": [P1, P2]}, "pipelineState": 4}}, "within": "3s"},
                 {"expect": {"pipeline-state": {"pid": {"one-of": [P1, P2]}, "pipelineState": 4}}, "within": "3s"},
             ], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.sequential", "A second pipeline after the first completed runs to Completed too",
             S10, "When a RunspacePool is in an Opened state, a PowerShell client may send a CREATE_PIPELINE to start executing a pipeline", "must", "server",
             ["psrp.server.pipeline-state-sent"], ["pipeline"],
             [OPEN] + start_pipeline(P1) + [completes(P1)] + start_pipeline(P2) + [completes(P2)], ignore=RUN_IGNORE)
    scenario("psrp.pipeline.duplicate-pid", "CREATE_PIPELINE for a PID that is still running stops that pipeline or closes the pool",
             "MS-PSRP §3.2.5.1 rule 4", "When a PowerShell server receives a message for a pipeline that is not in the correct state, then the server MUST [...] stop the pipeline",
             "should", "server", ["psrp.server.wrong-state-closes", "psrp.server.pipeline-state-change"], ["pipeline", "state", "negative"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"create-pipeline": {"pid": P1, "noInput": True, "commands": [{"cmd": "Get-Date"}]}}}, BROKEN,
             ], ignore=RUN_IGNORE, params={"framing": "outofproc"})
    scenario("psrp.pipeline.destination-client", "A pipeline message addressed to the client is not processed by the server",
             "MS-PSRP §2.2.1 Destination; ERRATA PSRP-7", "Destination 0x00000001: the message is targeted to a client", "must", "server",
             ["psrp.header.destination-checked"], ["pipeline", "destination", "negative"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"end-of-pipeline-input": {"pid": P1, "destination": "client"}}}, BROKEN,
             ], ignore=RUN_IGNORE, errata=["PSRP-7"])
    scenario("psrp.pipeline.output-from-client", "PIPELINE_OUTPUT (server-to-client) sent to the server is refused",
             "MS-PSRP §2.2.1 (Direction: server to client)", "PIPELINE_OUTPUT 0x00041004; Direction: Server to client", "must", "server",
             ["psrp.header.direction"], ["pipeline", "direction", "negative"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output")
             + tolerant_pipeline({"unknown": {"messageType": 0x00041004, "pid": P1, "clixml": "<S>backwards</S>", "objectId": 3000}},
                                 "ignored (the pipeline completes), or the pipeline stopped / pool closed"),
             ignore=RUN_IGNORE, params={"framing": "outofproc"})
    SM = "MS-PSRP §3.2.5.4.14 GET_COMMAND_METADATA; §3.1.4.5"
    scenario("psrp.pipeline.command-metadata", "GET_COMMAND_METADATA: CommandMetadataCount first, then PIPELINE_STATE Completed",
             SM, "the server MUST first construct a CommandMetadataCount object [...] and send it to the client using the PIPELINE_OUTPUT message [...] Once all the CommandMetadata objects are sent, the server MUST send a PIPELINE_STATE message with Completed state",
             "must", "server", ["psrp.server.get-command-metadata-count", "psrp.server.get-command-metadata-state", "psrp.server.get-command-metadata-messages"], ["pipeline", "metadata"], [
                 OPEN, {"send": {"oop.command": {"psGuid": P3}}},
                 {"expect": {"oop.command-ack": {"psGuid": P3}}, "within": "3s"},
                 {"send": {"get-command-metadata": {"pid": P3, "name": ["Get-*"], "commandType": 31}}},
                 {"expect": {"pipeline-output": {"pid": P3, "value": {"Obj": {"ms": {"any": True}}}}}, "within": "3s",
                  "note": "the first output is the CommandMetadataCount object"},
                 completes(P3),
             ], ignore=RUN_IGNORE, params={"framing": "outofproc"})
    scenario("psrp.pipeline.command-metadata-all", "GET_COMMAND_METADATA with no name pattern (treated as \"*\") completes",
             "MS-PSRP §2.2.2.14 GET_COMMAND_METADATA", "If the value of this property is equal to Null, then it MUST be treated as if a List with a single \"*\" String was specified",
             "must", "server", ["psrp.msg.get-command-metadata.null-name", "psrp.server.get-command-metadata-state"], ["pipeline", "metadata"], [
                 OPEN, {"send": {"oop.command": {"psGuid": P3}}},
                 {"expect": {"oop.command-ack": {"psGuid": P3}}, "within": "3s"},
                 {"send": {"get-command-metadata": {"pid": P3, "commandType": 31}}},
                 {"expect": {"pipeline-output": {"pid": P3}}, "within": "3s"},
                 completes(P3),
             ], ignore=RUN_IGNORE, params={"framing": "outofproc"})
    scenario("psrp.pipeline.command-metadata-fragments", "GET_COMMAND_METADATA over raw fragments completes",
             SM, "Once all the CommandMetadata objects are sent, the server MUST send a PIPELINE_STATE message with Completed state", "must", "server",
             ["psrp.server.get-command-metadata-state", "psrp.server.get-command-metadata-count"], ["pipeline", "metadata", "fragments"], [
                 OPEN, {"send": {"get-command-metadata": {"pid": P3, "name": ["*"], "commandType": 31}}},
                 {"expect": {"pipeline-output": {"pid": P3}}, "within": "3s"},
                 completes(P3),
             ], ignore=RUN_IGNORE, params={"framing": "fragments"})
    scenario("psrp.pipeline.command-metadata-before-open", "GET_COMMAND_METADATA before the pool is open is refused",
             SM, "The RunspacePool MUST be in the Opened state when this message is sent", "must", "server",
             ["psrp.server.wrong-state-closes"], ["pipeline", "metadata", "state", "negative"], [
                 {"include": "psrp/negotiated"}, {"send": {"oop.command": {"psGuid": P3}}},
                 {"send": {"get-command-metadata": {"pid": P3, "name": ["*"]}}}, CLOSE_PRE_OPEN,
             ], params={"framing": "outofproc"}, ignore=["oop.command-ack"])
    # ---- stop
    scenario("psrp.pipeline.stop-signal", "OutOfProc <Signal> stops a running pipeline: PIPELINE_STATE Stopped",
             "MS-PSRP §3.1.4.4 Stopping a Pipeline; §3.2.5.2 rule 6; PowerShell OutOfProc", "After changing the state, the PowerShell server MUST send a PIPELINE_STATE message with the appropriate state information",
             "must", "server", ["psrp.stop.state-stopped", "psrp.server.pipeline-state-change"], ["pipeline", "stop", "outofproc"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"oop.signal": {"psGuid": P1}}},
                 {"expect": {"pipeline-state": {"pid": P1, "pipelineState": {"one-of": [3, 5]}}}, "within": "3s"},
             ], ignore=RUN_IGNORE, params={"framing": "outofproc"})
    scenario("psrp.pipeline.signal-ack", "OutOfProc <Signal> is acknowledged with <SignalAck> for the same PSGuid",
             "PowerShell OutOfProc transport", "<Signal PSGuid=pid/> stops the pipeline; the server answers <SignalAck PSGuid=pid/>",
             "must", "server", ["psrp.oop.signal-ack"], ["pipeline", "stop", "outofproc"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"oop.signal": {"psGuid": P1}}},
                 {"expect": {"oop.signal-ack": {"psGuid": P1}, "pipeline-state": {"pid": P1}}, "within": "3s"},
                 {"expect": {"oop.signal-ack": {"psGuid": P1}, "pipeline-state": {"pid": P1}}, "within": "3s"},
             ], ignore=RUN_IGNORE, params={"framing": "outofproc"})
    scenario("psrp.pipeline.stop-then-silence", "After PIPELINE_STATE Stopped nothing more comes for that pipeline",
             "MS-PSRP §3.2.1.3.2 Pipeline State", "When the pipeline state is changed to Completed, Stopped, or Failed, the PowerShell server MUST not send any [...] messages targeted to that particular pipeline",
             "must", "server", ["psrp.server.no-messages-after-end", "psrp.stop.state-stopped"], ["pipeline", "stop", "outofproc"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"oop.signal": {"psGuid": P1}}},
                 {"expect": {"pipeline-state": {"pid": P1, "pipelineState": {"one-of": [3, 5]}}}, "within": "3s"},
                 {"send": {"end-of-pipeline-input": {"pid": P1}}},
                 {"expect-silence": "500ms"},
             ], ignore=RUN_IGNORE + ["oop.signal-ack", "runspacepool-state"], params={"framing": "outofproc"})
    scenario("psrp.pipeline.close-pipeline", "OutOfProc <Close> of a finished pipeline is acknowledged with <CloseAck>",
             "PowerShell OutOfProc transport", "<Close PSGuid=pid/> closes the pipeline; the server answers <CloseAck PSGuid=pid/>",
             "must", "server", ["psrp.oop.close-ack"], ["pipeline", "close", "outofproc"],
             [OPEN] + start_pipeline() + [completes(), {"send": {"oop.close": {"psGuid": P1}}},
                                          {"expect": {"oop.close-ack": {"psGuid": P1}}, "within": "3s"}],
             ignore=RUN_IGNORE, params={"framing": "outofproc"})
    scenario("psrp.pipeline.pool-usable-after-close", "After a pipeline's <Close> the pool still answers requests",
             "PowerShell OutOfProc transport; MS-PSRP §3.2.5.2", "Closing a pipeline does not close its RunspacePool", "must", "server",
             ["psrp.oop.close-ack", "psrp.server.get-available-ci"], ["pipeline", "close", "outofproc"],
             [OPEN] + start_pipeline() + [completes(), {"send": {"oop.close": {"psGuid": P1}}},
                                          {"expect": {"oop.close-ack": {"psGuid": P1}}, "within": "3s"},
                                          {"send": {"get-available-runspaces": {"ci": 44}}}, avail(44)],
             ignore=RUN_IGNORE, params={"framing": "outofproc"})
    scenario("psrp.pipeline.fragments-framing", "A pipeline over raw fragments (no OutOfProc packets) runs to Completed",
             S10 + "; §2.2.4", "The PowerShell server MUST send PIPELINE_STATE whenever pipeline state reaches Completed", "must", "server",
             ["psrp.server.pipeline-state-sent", "psrp.fragment.big-endian"], ["pipeline", "fragments"],
             [OPEN] + start_pipeline(oop=False) + [
                 {"expect": {"pipeline-output": {"pid": P1}}, "within": "3s"}, completes()], ignore=RUN_IGNORE, params={"framing": "fragments"})
    scenario("psrp.pipeline.fragments-input", "Pipeline input over raw fragments completes the pipeline",
             "MS-PSRP §3.2.5.4.17-18; §2.2.4", "The PowerShell server MUST process the message and send the contents as input to the pipeline", "must", "server",
             ["psrp.server.pipeline-input", "psrp.server.end-of-input"], ["pipeline", "input", "fragments"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output", oop=False) + [
                 {"send": {"pipeline-input": {"pid": P1, "value": {"S": "x"}}}, "fault": [{"split": 3}]},
                 {"send": {"end-of-pipeline-input": {"pid": P1}}}, completes()], ignore=RUN_IGNORE, params={"framing": "fragments"})
    scenario("psrp.pipeline.large-input", "A 40000-character input object (two fragments of PowerShell's 32768 bytes) is taken",
             "MS-PSRP §2.2.4; ERRATA PSRP-6", "PowerShell's fragment size of 32768 includes the 21-byte fragment header; receivers enforce per-object limits, not per-blob",
             "must", "server", ["psrp.fragment.reassemble-any-split", "psrp.fragment.size-includes-header", "psrp.server.pipeline-input"], ["pipeline", "input", "fragment", "errata"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                 {"send": {"pipeline-input": {"pid": P1, "value": {"S": "peercheck" * 4444}}}},
                 {"send": {"end-of-pipeline-input": {"pid": P1}}}, completes()], ignore=RUN_IGNORE, errata=["PSRP-6"])
    scenario("psrp.pipeline.host-response-unsolicited", "A PIPELINE_HOST_RESPONSE no host call asked for is ignored or stops the pipeline",
             "MS-PSRP §3.2.5.4.27 PIPELINE_HOST_RESPONSE", "The PowerShell server MUST extract the \"ci\" (call id) from the message and remove the corresponding integer identifier from the Host calls CI table",
             "must", "server", ["psrp.server.host-response-ci"], ["pipeline", "host", "negative"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output")
             + tolerant_pipeline({"pipeline-host-response": {"pid": P1, "ci": 77, "methodId": 11, "returnValue": {"S": "nobody asked"}, "objectId": 3000}},
                                 "ignored (the pipeline completes), or the pipeline stopped / pool closed"),
             ignore=RUN_IGNORE, params={"framing": "outofproc"})
    scenario("psrp.pipeline.pool-host-response-unsolicited", "A RUNSPACEPOOL_HOST_RESPONSE no host call asked for is ignored or closes the pool",
             "MS-PSRP §3.2.5.4.16 RUNSPACEPOOL_HOST_RESPONSE", "The PowerShell server SHOULD extract the \"ci\" (call id) from the message and remove the corresponding integer identifier from the Host calls CI table",
             "must", "server", ["psrp.server.host-response-ci"], ["pool", "host", "negative"],
             [OPEN] + tolerant(15, "the stray response is ignored or closes the pool",
                               {"runspacepool-host-response": {"ci": 78, "methodId": 11, "returnValue": {"S": "nobody asked"}, "objectId": 3000}}),
             params={"framing": "outofproc"})
    for i, (name, fault, title) in enumerate([("create-slow", [{"bandwidth": 2000}], "at 2000 bytes/s"),
                                              ("create-delayed", [{"delay": "100ms"}], "after 100 ms"),
                                              ("create-sliced-7", [{"slice": 7}], "in 7-byte writes")]):
        scenario(f"psrp.pipeline.{name}", f"CREATE_PIPELINE delivered {title} runs to Completed",
                 "MS-PSRP §3.2.5.1.2 Rules for Receiving Data", "The receiver completes the message at its End fragment, however the bytes arrive", "must", "server",
                 ["psrp.fragment.reassemble-any-split", "psrp.server.pipeline-state-sent"], ["pipeline", "faults"],
                 [OPEN, {"send": {"oop.command": {"psGuid": P1}}},
                  {"send": {"create-pipeline": {"pid": P1, "noInput": True, "commands": [{"cmd": "Get-Date"}]}}, "fault": fault},
                  completes()], ignore=RUN_IGNORE + ["oop.command-ack"], params={"framing": "outofproc"})


def fragments():
    """Crafted fragments (after the pool is open, pool-targeted GET_AVAILABLE_RUNSPACES)."""
    SF = "MS-PSRP §2.2.4 Packet Fragment; §3.2.5.1.2 Rules for Receiving Data"
    msg = lambda ci, **kw: message(GET_AVAILABLE_RUNSPACES, get_avail(ci), **kw)

    def case(name, title, spec, requirement, level, covers, frags, expect, errata=None, framing="outofproc", extra_tags=()):
        # All fragments in one write: a server that refuses the first bad one may close at once, and
        # a later write would then fail instead of the expectation being checked.
        steps = [OPEN]
        for comment, _ in frags:
            steps.append({"comment": comment})
        data = b"".join(line(f) if framing == "outofproc" else f for _, f in frags)
        steps.append({"send-hex": hexs(data)})
        steps += expect
        scenario(f"psrp.fragment.{name}", title, spec, requirement, level, "server", covers,
                 ["fragment", framing] + list(extra_tags), steps, errata=errata, params={"framing": framing})

    for framing in ["outofproc", "fragments"]:
        sfx = "" if framing == "outofproc" else "-raw"
        tf = "" if framing == "outofproc" else " (raw fragments)"
        m = msg(201)
        case(f"crafted-single{sfx}", f"A crafted single fragment (S and E set, FragmentId 0) is one message{tf}", SF,
             "If a deserialized object fits into 1 packet, then both the E field and the S field MUST be 1; the Start fragment MUST have a FragmentId of 0",
             "must", ["psrp.fragment.single-start-end", "psrp.fragment.big-endian", "psrp.header.little-endian"],
             [("ObjectId 1001, FragmentId 0, S|E: GET_AVAILABLE_RUNSPACES ci 201", fragment(1001, 0, 3, m))],
             [avail(201)], errata=["PSRP-2"], framing=framing)
        a, b, c = split(msg(202), 3)
        case(f"crafted-three{sfx}", f"Three crafted fragments 0 (S), 1, 2 (E) make one message{tf}", SF,
             "The FragmentIDs MUST be numbered consecutively beginning with 0; after an EndFragment packet is received, a whole PSRP message is stored",
             "must", ["psrp.fragment.consecutive", "psrp.fragment.reassemble-any-split", "psrp.fragment.end-flag"],
             [("ObjectId 1002 FragmentId 0 S", fragment(1002, 0, 1, a)), ("FragmentId 1 (middle)", fragment(1002, 1, 0, b)),
              ("FragmentId 2 E", fragment(1002, 2, 2, c))], [avail(202)], framing=framing)
        a, b, c = split(msg(203), 3)
        case(f"gap{sfx}", f"A FragmentId gap (0, 2) closes the pool{tf}", SF,
             "If at any point it is determined that the fragments are not received in ascending order of FragmentID with the same ObjectID, the PowerShell MUST close the appropriate RunspacePool or stop the appropriate pipeline",
             "must", ["psrp.fragment.server-order-violation", "psrp.fragment.consecutive"],
             [("ObjectId 1003 FragmentId 0 S", fragment(1003, 0, 1, a)), ("FragmentId 2 E: FragmentId 1 is missing", fragment(1003, 2, 2, b + c))],
             [POOL_BROKEN], errata=["PSRP-7"], framing=framing, extra_tags=["negative"])
        case(f"start-from-1{sfx}", f"A single fragment numbered 1 instead of 0 is refused{tf}", SF,
             "FragmentId: The value of this field MUST start with 0. The Start fragment MUST have a FragmentId of 0.",
             "must", ["psrp.fragment.id-starts-0", "psrp.fragment.start-id-0", "psrp.fragment.server-order-violation"],
             [("ObjectId 1004 FragmentId 1 S|E", fragment(1004, 1, 3, msg(204)))], [POOL_BROKEN], framing=framing, extra_tags=["negative"])
        a, b = split(msg(205), 2)
        case(f"missing-start{sfx}", f"Fragments without a Start flag are refused{tf}", SF,
             "Specifies if the packet represents the Start fragment [...] The Start fragment MUST have a FragmentId of 0",
             "must", ["psrp.fragment.start-id-0", "psrp.fragment.server-order-violation"],
             [("ObjectId 1005 FragmentId 0 with no flags (S missing)", fragment(1005, 0, 0, a)), ("FragmentId 1 E", fragment(1005, 1, 2, b))],
             [POOL_BROKEN], errata=["PSRP-7"], framing=framing, extra_tags=["negative"])
        case(f"end-only{sfx}", f"A lone End fragment (no Start) is refused{tf}", SF,
             "If a deserialized object fits into 1 packet, then both the E field and the S field MUST be 1",
             "must", ["psrp.fragment.single-start-end", "psrp.fragment.server-order-violation"],
             [("ObjectId 1006 FragmentId 0 E only", fragment(1006, 0, 2, msg(206)))], [POOL_BROKEN], framing=framing, extra_tags=["negative"])
        a, b = split(msg(207), 2)
        case(f"missing-end-new-start{sfx}", f"A Start fragment while another object is unfinished restarts the object (PowerShell) or closes the pool (spec text){tf}",
             SF + "; ERRATA PSRP-7", "PowerShell's receiver: one object in flight per stream; a Start fragment restarts the object. The spec text: fragments out of order close the pool",
             "must", ["psrp.fragment.start-restarts", "psrp.fragment.server-order-violation"],
             [("ObjectId 1007 FragmentId 0 S: half of a message, never finished", fragment(1007, 0, 1, a)),
              ("ObjectId 1008 FragmentId 0 S|E: GET_AVAILABLE_RUNSPACES ci 208", fragment(1008, 0, 3, msg(208)))],
             [{"expect": {"runspace-availability": {"ci": 208}, "runspacepool-state": {"runspaceState": {"one-of": [3, 5]}}}, "within": "3s",
               "note": "either restart (answer ci 208) or close the pool; never glue the two objects together"}],
             errata=["PSRP-7"], framing=framing, extra_tags=["negative", "errata"])
        a, b = split(msg(209), 2)
        case(f"object-id-changes{sfx}", f"The End fragment under another ObjectId than its Start is refused{tf}", SF,
             "the receiver will use the ObjectId to map them to the same PowerShell message; fragments not in ascending order of FragmentID with the same ObjectID close the pool",
             "must", ["psrp.fragment.server-order-violation"],
             [("ObjectId 1009 FragmentId 0 S", fragment(1009, 0, 1, a)), ("ObjectId 1010 FragmentId 1 E", fragment(1010, 1, 2, b))],
             [POOL_BROKEN], errata=["PSRP-7"], framing=framing, extra_tags=["negative"])
        a, b = split(msg(210), 2)
        case(f"duplicate-fragment{sfx}", f"The same FragmentId twice is refused{tf}", SF,
             "If at any point it is determined that the fragments are not received in ascending order of FragmentID with the same ObjectID, the PowerShell MUST close the appropriate RunspacePool",
             "must", ["psrp.fragment.server-order-violation"],
             [("ObjectId 1011 FragmentId 0 S", fragment(1011, 0, 1, a)), ("FragmentId 0 again (no flags)", fragment(1011, 0, 0, a)),
              ("FragmentId 1 E", fragment(1011, 1, 2, b))], [POOL_BROKEN], framing=framing, extra_tags=["negative"])
        a, b = split(msg(211), 2)
        case(f"reversed{sfx}", f"Fragments in reverse order (1 E, then 0 S) are refused{tf}", SF,
             "The FragmentId values determine the order [...] fragments not in ascending order close the pool",
             "must", ["psrp.fragment.server-order-violation"],
             [("ObjectId 1012 FragmentId 1 E first", fragment(1012, 1, 2, b)), ("FragmentId 0 S", fragment(1012, 0, 1, a))],
             [POOL_BROKEN], framing=framing, extra_tags=["negative"])
        case(f"reserved-bits{sfx}", f"Reserved flag bits set are ignored on receipt{tf}", SF,
             "Reserved (6 bits): Reserved for future use. MUST be set to 0 and ignored upon receipt.",
             "must", ["psrp.fragment.reserved-zero"],
             [("ObjectId 1013 FragmentId 0 flags 0xFF (S|E and all reserved bits)", fragment(1013, 0, 0xFF, msg(212)))],
             [avail(212)], framing=framing)
        case(f"blob-length-huge{sfx}", f"BlobLength 0x7FFFFFFF (over any per-object limit) is refused without waiting for the bytes{tf}",
             SF + "; ERRATA PSRP-6", "BlobLength MUST be less than or equal to 32768; receivers enforce per-object limits (10 MB on the server)",
             "must", ["psrp.fragment.blob-length-max", "psrp.fragment.no-wait-over-limit"],
             ([("ObjectId 1026: an empty Start fragment, then the End fragment with GET_AVAILABLE_RUNSPACES ci 228 (a valid message first)",
                fragment(1026, 0, 1, b"") + fragment(1026, 1, 2, msg(228)))] if framing == "fragments" else [])
             + [("ObjectId 1014 FragmentId 0 S|E, BlobLength 0x7FFFFFFF but 16 bytes follow", fragment(1014, 0, 3, b"\x02\x00\x00\x00\x07\x10\x02\x00" + b"\x00" * 8, blen=0x7FFFFFFF))],
             ([avail(228)] if framing == "fragments" else []) + [{"expect-close": {"within": "3s", "allow": ["runspacepool-state"]},
               "note": "a length over every named maximum must be refused from the header: close (optionally after RUNSPACEPOOL_STATE Broken)"}],
             errata=["PSRP-6"], framing=framing, extra_tags=["negative", "limits"])
        case(f"zero-length-end{sfx}", f"An empty End fragment after a full Start completes the message{tf}", SF,
             "BlobLength: This field MUST be set to a value greater than or equal to 0", "must", ["psrp.fragment.blob-length-exact", "psrp.fragment.reassemble-any-split"],
             [("ObjectId 1015 FragmentId 0 S with the whole message", fragment(1015, 0, 1, msg(213))), ("FragmentId 1 E with BlobLength 0", fragment(1015, 1, 2, b""))],
             [avail(213)], framing=framing)
        m = msg(214)
        case(f"header-little-endian{sfx}", f"A fragment header written little-endian is refused{tf}", SF + "; ERRATA PSRP-2",
             "ObjectId, FragmentId, BlobLength: The value is in the network-byte order", "must", ["psrp.fragment.big-endian"],
             [("ObjectId 1016 FragmentId 0 S|E, header little-endian", fragment(1016, 0, 3, m, le=True))],
             [{"expect-close": {"within": "3s", "allow": ["runspacepool-state"]},
               "note": "read big-endian, the ObjectId and BlobLength are absurd; the server must refuse, not wait for gigabytes"}],
             errata=["PSRP-2"], framing=framing, extra_tags=["negative"])
    for framing in ["outofproc", "fragments"]:
        sfx = "" if framing == "outofproc" else "-raw"
        a, b = split(msg(224), 2)
        first = fragment(1022, 0, 1, a)
        scenario(f"psrp.fragment.unfinished-waits{sfx}", "A message whose End fragment has not come yet is not acted on: the server waits" + ("" if framing == "outofproc" else " (raw fragments)"),
                 SF, "After an EndFragment packet is received, a whole PSRP message is stored and can be handled [not before]", "must", "server",
                 ["psrp.fragment.end-flag"], ["fragment", framing],
                 [OPEN, {"comment": "ObjectId 1022 FragmentId 0 S only: GET_AVAILABLE_RUNSPACES ci 224, first half"},
                  {"send-hex": hexs(line(first) if framing == "outofproc" else first)},
                  {"expect-silence": "600ms", "note": "nothing may answer half a message; the suite then leaves with it unfinished"}],
                 params={"framing": framing})
        b2 = fragment(1023, 0, 1, b"") + fragment(1023, 1, 2, msg(225))
        scenario(f"psrp.fragment.empty-start{sfx}", "An empty Start fragment (BlobLength 0) followed by the whole message in the End fragment is one message" + ("" if framing == "outofproc" else " (raw fragments)"),
                 SF, "BlobLength: This field MUST be set to a value greater than or equal to 0", "must", "server",
                 ["psrp.fragment.blob-length-exact", "psrp.fragment.reassemble-any-split"], ["fragment", framing],
                 [OPEN, {"comment": "ObjectId 1023: FragmentId 0 S with no bytes, FragmentId 1 E with GET_AVAILABLE_RUNSPACES ci 225"},
                  {"send-hex": hexs(line(fragment(1023, 0, 1, b"")) + line(fragment(1023, 1, 2, msg(225))) if framing == "outofproc" else b2)},
                  avail(225)], params={"framing": framing})
    # A 4096-byte blob (within §2.2.4's 32768) that arrives in two writes.
    pad = 4096 - len(message(GET_AVAILABLE_RUNSPACES, '<Obj RefId="0"><MS><I64 N="ci">226</I64><S N="Padding"></S></MS></Obj>'))
    big = message(GET_AVAILABLE_RUNSPACES, '<Obj RefId="0"><MS><I64 N="ci">226</I64><S N="Padding">' + "p" * pad + '</S></MS></Obj>')
    assert len(big) == 4096
    fb = fragment(1025, 0, 3, big)
    scenario("psrp.fragment.blob-4096-two-writes-raw", "A 4096-byte blob arriving in two writes is one message (raw fragments)",
             SF, "BlobLength: less than or equal to 32768; the receiver waits for the whole Blob", "must", "server",
             ["psrp.fragment.blob-length-exact", "psrp.fragment.reassemble-any-split", "psrp.fragment.blob-length-max"], ["fragment", "fragments"],
             [OPEN,
              {"comment": "ObjectId 1024: an empty Start fragment and an End fragment with GET_AVAILABLE_RUNSPACES ci 227"},
              {"send-hex": hexs(fragment(1024, 0, 1, b"") + fragment(1024, 1, 2, msg(227)))}, avail(227),
              {"comment": "ObjectId 1025 S|E, BlobLength 4096: header and 100 bytes, then the rest"},
              {"send-hex": hexs(fb[:121])}, {"sleep": "150ms"}, {"send-hex": hexs(fb[121:])}, avail(226)],
             params={"framing": "fragments"})
    # OutOfProc only: several fragments of one message in one Data line; message header checks.
    a, b = split(msg(215), 2)
    scenario("psrp.fragment.two-in-one-line", "Two fragments of one message inside a single <Data> line make one message",
             SF + "; PowerShell OutOfProc", "Each message contains one or more fragments; the receiver appends each Blob", "must", "server",
             ["psrp.fragment.reassemble-any-split"], ["fragment", "outofproc"],
             [OPEN, {"comment": "one Data line: ObjectId 1017 FragmentId 0 S + FragmentId 1 E"},
              {"send-hex": hexs(line(fragment(1017, 0, 1, a) + fragment(1017, 1, 2, b)))}, avail(215)], params={"framing": "outofproc"})
    scenario("psrp.fragment.two-messages-one-line", "Two whole messages inside a single <Data> line are both processed, in order",
             SF + "; §3.2.1.2.4", "Each message contains one or more fragments; the server answers in FIFO order", "must", "server",
             ["psrp.fragment.reassemble-any-split", "psrp.server.fifo"], ["fragment", "outofproc"],
             [OPEN, {"comment": "one Data line: ObjectId 1018 (ci 216) and ObjectId 1019 (ci 217), each S|E"},
              {"send-hex": hexs(line(fragment(1018, 0, 3, msg(216)) + fragment(1019, 0, 3, msg(217))))}, avail(216), avail(217)], params={"framing": "outofproc"})
    scenario("psrp.fragment.server-object-ids", "The server's ObjectIds are greater than 0 and never reused within the pool",
             SF, "ObjectId: The value of this field MUST be greater than 0 and unique within a given RunspacePool and its associated pipelines", "must", "server",
             ["psrp.fragment.object-id-unique", "psrp.fragment.object-id-nonzero"], ["fragment"],
             [{"send": {"session-capability": {}}},
              {"expect": {"session-capability": {"objectId": {"range": [1, None]}}}, "within": "3s", "capture": {"o1": "objectId"}},
              {"send": {"init-runspacepool": {}}},
              {"expect": {"application-private-data": {"objectId": {"all-of": [{"range": [1, None]}, {"not": "${o1}"}]}}}, "within": "3s", "capture": {"o2": "objectId"}},
              {"expect": {"runspacepool-state": {"objectId": {"all-of": [{"range": [1, None]}, {"not": "${o1}"}, {"not": "${o2}"}]}}}, "within": "3s", "capture": {"o3": "objectId"}},
              {"send": {"get-available-runspaces": {"ci": 1}}},
              {"expect": {"runspace-availability": {"objectId": {"all-of": [{"range": [1, None]}, {"not": "${o1}"}, {"not": "${o2}"}, {"not": "${o3}"}]}}}, "within": "3s"}],
             errata=["PSRP-7"])
    scenario("psrp.fragment.object-id-zero", "A message under ObjectId 0 is refused",
             SF + "; ERRATA PSRP-7", "ObjectId: The value of this field MUST be greater than 0", "must", "server",
             ["psrp.fragment.object-id-nonzero"], ["fragment", "negative"],
             [OPEN, {"send": {"get-available-runspaces": {"ci": 218, "objectId": 0}}}, POOL_BROKEN], errata=["PSRP-7"])
    scenario("psrp.fragment.object-id-zero-first", "SESSION_CAPABILITY under ObjectId 0 is refused",
             SF + "; ERRATA PSRP-7", "ObjectId: The value of this field MUST be greater than 0", "must", "server",
             ["psrp.fragment.object-id-nonzero"], ["fragment", "negative"],
             [{"send": {"session-capability": {"objectId": 0}}}, CLOSE_PRE_OPEN], errata=["PSRP-7"])
    scenario("psrp.fragment.small-fragments", "Every message split into 64-byte fragments is reassembled (and answers may be too)",
             SF, "The receiver appends each fragment's Blob; after an EndFragment a whole message is stored", "must", "server",
             ["psrp.fragment.reassemble-any-split", "psrp.fragment.consecutive"], ["fragment"],
             [OPEN, {"send": {"get-available-runspaces": {"ci": 219}}}, avail(219)], params={"max-fragment-size": "64"})
    scenario("psrp.fragment.one-byte-blobs", "Messages split into 1-byte blobs (22-byte fragments) are reassembled",
             SF, "The receiver appends each fragment's Blob; after an EndFragment a whole message is stored", "must", "server",
             ["psrp.fragment.reassemble-any-split"], ["fragment"],
             [OPEN, {"send": {"get-available-runspaces": {"ci": 220}}}, avail(220)], params={"max-fragment-size": "22"})
    scenario("psrp.fragment.small-fragments-raw", "Raw fragments of 48 bytes are reassembled into the whole pool opening",
             SF, "The receiver appends each fragment's Blob; after an EndFragment a whole message is stored", "must", "server",
             ["psrp.fragment.reassemble-any-split"], ["fragment", "fragments"],
             [OPEN, {"send": {"get-available-runspaces": {"ci": 221}}}, avail(221)], params={"max-fragment-size": "48", "framing": "fragments"})
    scenario("psrp.fragment.raw-sliced", "Raw fragments arriving one byte at a time are reassembled",
             SF, "however the bytes arrive, a message completes at its End fragment", "must", "server",
             ["psrp.fragment.reassemble-any-split"], ["fragment", "fragments", "faults"],
             [{"send": {"session-capability": {}}, "fault": [{"slice": 1}]}, {"expect": {"session-capability": CAP_OK}, "within": "3s"},
              {"send": {"init-runspacepool": {}}, "fault": [{"slice": 3}]},
              {"expect": {"application-private-data": {}}, "within": "3s"}, {"expect": {"runspacepool-state": {"runspaceState": 2}}, "within": "3s"}],
             params={"framing": "fragments"})
    scenario("psrp.fragment.header-le-type", "A message header with the MessageType big-endian is not taken as a known message",
             "MS-PSRP §2.2.1; ERRATA PSRP-2", "The message header is little-endian", "must", "server",
             ["psrp.header.little-endian"], ["fragment", "header", "negative"],
             [OPEN] + tolerant(223, "a type that is not in the table is ignored or closes the pool; ci 222 is never answered",
                               line(fragment(1020, 0, 3, struct.pack("<I", 2) + struct.pack(">I", GET_AVAILABLE_RUNSPACES) + msg(222)[8:]))),
             errata=["PSRP-2"], params={"framing": "outofproc"})
    scenario("psrp.fragment.short-message", "A message shorter than the 40-byte header is refused",
             "MS-PSRP §2.2.1", "Destination (4), MessageType (4), RPID (16), PID (16) precede Data", "must", "server",
             ["psrp.header.messagetype-action"], ["fragment", "header", "negative"],
             [OPEN, {"comment": "ObjectId 1021 S|E with a 10-byte blob"},
              {"send-hex": hexs(line(fragment(1021, 0, 3, bytes(range(10)))))}, POOL_BROKEN], params={"framing": "outofproc"})


def oop():
    SO = "PowerShell OutOfProc transport (DESIGN.md)"
    scenario("psrp.oop.data-ack", "Every <Data> line is answered with <DataAck> for its PSGuid",
             SO, "The server answers every <Data> line with <DataAck PSGuid=…/> for the same PSGuid after processing it", "must", "server",
             ["psrp.oop.data-ack"], ["outofproc"], [
                 {"send": {"session-capability": {}}},
                 {"expect": {"oop.data-ack": {"psGuid": NIL}, "session-capability": {}}, "within": "3s"},
                 {"expect": {"oop.data-ack": {"psGuid": NIL}, "session-capability": {}}, "within": "3s"},
             ], params={"framing": "outofproc"})
    scenario("psrp.oop.data-ack-pipeline", "A pipeline's <Data> lines are acknowledged under the pipeline's PSGuid",
             SO, "The server answers every <Data> line with <DataAck PSGuid=…/> for the same PSGuid", "must", "server",
             ["psrp.oop.data-ack", "psrp.oop.psguid-matches-pid"], ["outofproc", "pipeline"],
             [OPEN] + start_pipeline() + [{"expect": {"oop.data-ack": {"psGuid": P1}}, "within": "3s"}],
             params={"framing": "outofproc"}, ignore=RUN_IGNORE + ["pipeline-state"], errata=["PSRP-3"])
    scenario("psrp.oop.command-ack", "<Command> is answered with <CommandAck> for the same PSGuid",
             SO, "<Command PSGuid=pid/> announces a pipeline; the server answers <CommandAck PSGuid=pid/>", "must", "server",
             ["psrp.oop.command-ack"], ["outofproc", "pipeline"],
             [OPEN, {"send": {"oop.command": {"psGuid": P2}}}, {"expect": {"oop.command-ack": {"psGuid": P2}}, "within": "3s"}],
             params={"framing": "outofproc"})
    scenario("psrp.oop.output-psguid", "Pipeline output travels in <Data> lines whose PSGuid is the pipeline id",
             "ERRATA PSRP-3", "OutOfProc PSGuid text must match the pipeline id", "must", "server",
             ["psrp.oop.psguid-matches-pid", "psrp.header.guid-order"], ["outofproc", "errata"],
             [OPEN] + start_pipeline() + [{"expect": {"pipeline-output": {"pid": P1}}, "within": "3s"}, completes()],
             params={"framing": "outofproc"}, ignore=RUN_IGNORE, errata=["PSRP-3"])

    def bad_line(name, title, text, requirement, covers, level="must", spec=SO, errata=None, pre_open=False):
        steps = [{"include": "psrp/negotiated"} if pre_open else OPEN, {"comment": repr(text)}, {"send-hex": hexs(text)}]
        steps.append(CLOSE_PRE_OPEN if pre_open else POOL_BROKEN)
        scenario(f"psrp.oop.{name}", title, spec, requirement, level, "server", covers, ["outofproc", "negative", "malformed"],
                 steps, params={"framing": "outofproc"}, errata=errata)

    good = base64.b64encode(fragment(1101, 0, 3, message(GET_AVAILABLE_RUNSPACES, get_avail(301)))).decode()
    bad_line("bad-base64", "A <Data> line whose content is not base64 ends the pool",
             f"<Data Stream='Default' PSGuid='{NIL}'>%%% not base64 %%%</Data>\n".encode(),
             "A line that is not one well-formed packet element (bad base64) is a transport error", ["psrp.oop.malformed-line"])
    bad_line("unclosed-data", "A <Data> element that is never closed on its line ends the pool",
             f"<Data Stream='Default' PSGuid='{NIL}'>{good}\n".encode(),
             "A line that is not one well-formed packet element is a transport error", ["psrp.oop.malformed-line"])
    bad_line("not-xml", "A line that is not XML ends the pool", b"hello, server\n",
             "A line that is not one well-formed packet element is a transport error", ["psrp.oop.malformed-line"])
    bad_line("no-psguid", "A <Data> line without a PSGuid attribute ends the pool",
             f"<Data Stream='Default'>{good}</Data>\n".encode(),
             "A line that is not one well-formed packet element is a transport error", ["psrp.oop.malformed-line"])
    bad_line("bad-psguid", "A <Data> line whose PSGuid is not a GUID ends the pool",
             f"<Data Stream='Default' PSGuid='not-a-guid'>{good}</Data>\n".encode(),
             "A line that is not one well-formed packet element is a transport error", ["psrp.oop.malformed-line"])
    # PowerShell routes a <Data> line by its PSGuid: data for a pipeline no <Command> announced is
    # acknowledged and dropped (protocols/psrp/README.md, Findings); breaking the pool is correct too.
    # Either way the pool request it carries must not be answered.
    mismatch = f"<Data Stream='Default' PSGuid='{P2}'>{good}</Data>\n".encode()
    scenario("psrp.oop.psguid-mismatch", "A <Data> line whose PSGuid is not the carried message's PID is not acted on",
             "ERRATA PSRP-3", "OutOfProc PSGuid text must match the pipeline id", "must", "server",
             ["psrp.oop.psguid-matches-pid"], ["outofproc", "negative", "malformed"],
             [OPEN, {"comment": repr(mismatch)}, {"send-hex": hexs(mismatch)},
              {"expect-close": {"within": "1500ms", "allow": ["runspacepool-state"], "or-silence": True},
               "note": "dropping the line (PowerShell) or breaking the pool (RUNSPACEPOOL_STATE, maybe a close) are both correct; answering the GET_AVAILABLE_RUNSPACES it carries is not"}],
             params={"framing": "outofproc"}, errata=["PSRP-3"])
    bad_line("bad-base64-pre-open", "A bad <Data> line before the pool is open ends the session",
             f"<Data Stream='Default' PSGuid='{NIL}'>@@@@</Data>\n".encode(),
             "A line that is not one well-formed packet element is a transport error", ["psrp.oop.malformed-line"], pre_open=True)
    scenario("psrp.oop.unknown-element", "An unknown packet element is ignored or ends the session; the pool never mis-acts on it",
             SO, "A line that is not one of the known packet elements is a transport error (or ignored)", "should", "server",
             ["psrp.oop.malformed-line"], ["outofproc", "negative"],
             [OPEN] + tolerant(303, "an unknown element is ignored (the request is answered) or ends the pool", f"<Frobnicate PSGuid='{NIL}' />\n".encode()),
             params={"framing": "outofproc"})
    scenario("psrp.oop.guid-upper-case", "PSGuid in upper case is the same GUID",
             SO, "PSGuid is parsed as a GUID (Guid.Parse: either letter case)", "should", "server",
             ["psrp.oop.guid-case"], ["outofproc"],
             [OPEN, {"send-hex": hexs(data_line(fragment(1103, 0, 3, message(GET_AVAILABLE_RUNSPACES, get_avail(304))), NIL.upper()))}, avail(304)],
             params={"framing": "outofproc"})
    scenario("psrp.oop.pipeline-guid-upper-case", "<Command> and <Data> with the pipeline PSGuid in upper case run the pipeline",
             SO, "PSGuid is parsed as a GUID (Guid.Parse: either letter case)", "should", "server",
             ["psrp.oop.guid-case", "psrp.oop.command-ack"], ["outofproc", "pipeline"],
             [OPEN, {"send-hex": hexs(f"<Command PSGuid='{P1.upper()}' />\n".encode())},
              {"expect": {"oop.command-ack": {"psGuid": P1}}, "within": "3s"},
              {"send": {"create-pipeline": {"pid": P1, "noInput": True, "commands": [{"cmd": "Get-Date"}]}}}, completes()],
             params={"framing": "outofproc"}, ignore=RUN_IGNORE)
    scenario("psrp.oop.double-quoted-attributes", "Attributes in double quotes are the same packet (XML)",
             SO, "One XML element per line; XML allows either quote", "should", "server", ["psrp.oop.malformed-line"], ["outofproc"],
             [OPEN, {"send-hex": hexs(f'<Data Stream="Default" PSGuid="{NIL}">{good}</Data>\n'.encode())}, avail(301)],
             params={"framing": "outofproc"})
    scenario("psrp.oop.line-split", "A <Data> line split across many writes is one packet",
             SO, "one XML element per line, however the bytes arrive", "must", "server", ["psrp.fragment.reassemble-any-split"], ["outofproc", "faults"],
             [OPEN, {"send": {"get-available-runspaces": {"ci": 305}}, "fault": [{"split": 9}]}, avail(305)], params={"framing": "outofproc"})
    scenario("psrp.oop.two-lines-one-write", "Two packets in one write are both taken",
             SO, "one XML element per line", "must", "server", ["psrp.fragment.reassemble-any-split", "psrp.oop.command-ack"], ["outofproc"],
             [OPEN, {"send-hex": hexs(data_line(fragment(1104, 0, 3, message(GET_AVAILABLE_RUNSPACES, get_avail(306)))) + f"<Command PSGuid='{P2}' />\n".encode())},
              avail(306), {"expect": {"oop.command-ack": {"psGuid": P2}}, "within": "3s"}], params={"framing": "outofproc"})
    scenario("psrp.oop.signal-unknown-pipeline", "<Signal> for a pipeline that does not exist does not disturb the pool",
             SO + "; MS-PSRP §3.2.5.1 rule 5", "If a PowerShell server receives a message that does not target any existing pipeline or RunspacePool, [it] MUST [...] ignore the message",
             "should", "server", ["psrp.oop.signal-ack"], ["outofproc", "negative"],
             [OPEN, {"send": {"oop.signal": {"psGuid": P3}}}, {"send": {"get-available-runspaces": {"ci": 307}}}, avail(307)],
             params={"framing": "outofproc"}, ignore=["oop.signal-ack"])


def clixml():
    """CLIXML bodies sent as PIPELINE_INPUT; the server must take or refuse them cleanly."""
    SC = "MS-PSRP §2.2.5 Serialization"

    def accepts(name, title, xml, requirement, covers, spec=SC, level="must", errata=None):
        scenario(f"psrp.clixml.{name}", title, spec, requirement, level, "server", covers, ["clixml"],
                 [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                     {"send": {"pipeline-input": {"pid": P1, "clixml": xml}}},
                     {"send": {"end-of-pipeline-input": {"pid": P1}}},
                     completes(),
                 ], ignore=RUN_IGNORE, errata=errata)

    def refuses(name, title, xml, requirement, covers, spec=SC, level="must", errata=None):
        scenario(f"psrp.clixml.{name}", title, spec, requirement, level, "server", covers, ["clixml", "negative"],
                 [OPEN] + start_pipeline(no_input=False, cmd="Write-Output") + [
                     {"send": {"pipeline-input": {"pid": P1, "clixml": xml}}},
                     BROKEN,
                 ], ignore=RUN_IGNORE, errata=errata)

    P = "If the object type is listed in section 2.2.5.1, the higher layer MUST encode the object as specified in that section"
    prims = [
        ("string", "<S>plain text</S>", "String (S)"), ("char", "<C>97</C>", "Character (C)"), ("bool", "<B>true</B>", "Boolean (B)"),
        ("datetime", "<DT>2008-04-11T10:42:32.2731993-07:00</DT>", "Date/Time (DT)"), ("duration", "<TS>PT9.0269026S</TS>", "Duration (TS)"),
        ("byte", "<By>254</By>", "Unsigned Byte (By)"), ("sbyte", "<SB>-127</SB>", "Signed Byte (SB)"),
        ("ints", "<Obj RefId=\"0\"><MS><U16 N=\"a\">65535</U16><I16 N=\"b\">-32768</I16><U32 N=\"c\">4294967295</U32><I32 N=\"d\">-2147483648</I32><U64 N=\"e\">18446744073709551615</U64><I64 N=\"f\">-9223372036854775808</I64></MS></Obj>", "integers at their limits (U16, I16, U32, I32, U64, I64)"),
        ("floats", "<Obj RefId=\"0\"><MS><Sg N=\"a\">12.34</Sg><Db N=\"b\">-1.5E+300</Db><D N=\"c\">79228162514264337593543950335</D><Db N=\"d\">INF</Db><Db N=\"e\">NaN</Db></MS></Obj>", "Float, Double (with INF and NaN) and Decimal"),
        ("bytes", "<BA>AQIDBA==</BA>", "Array of Bytes (BA)"), ("guid", "<G>792e5b37-4505-47ef-b7d2-8711bb7affa8</G>", "GUID (G)"),
        ("uri", "<URI>http://www.microsoft.com/</URI>", "URI"), ("nil", "<Nil />", "Null (Nil)"), ("version", "<Version>6.2.1.3</Version>", "Version"),
        ("xml-document", "<XD>&lt;name attribute=\"value\"&gt;Content&lt;/name&gt;</XD>", "XML Document (XD)"),
        ("scriptblock", "<SBK>get-command -type cmdlet</SBK>", "ScriptBlock (SBK)"),
        ("progress-record", "<PR><AV>Activity</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Processing</T><SR>-1</SR><SD>Status</SD></PR>", "Progress Record (PR)"),
    ]
    for name, xml, what in prims:
        accepts(f"primitive-{name}", f"A PIPELINE_INPUT of {what} is taken", xml, P, ["psrp.clixml.primitives"], spec=SC + ".1", errata=["PSRP-9"])
    accepts("escape-control", "An _xHHHH_ escape of CR, LF and TAB is taken", "<S>line1_x000D__x000A_line2_x0009_end</S>",
            "Strings are encoded with _xHHHH_ escapes for characters XML cannot carry", ["psrp.clixml.string-escape"], spec=SC + ".3.2", errata=["PSRP-10"])
    accepts("escape-lower-hex", "An escape with lower-case hex digits (_x000a_) is taken", "<S>a_x000a_b</S>",
            "the receiver decodes _[Xx]([0-9a-fA-F]{4})_ sequences", ["psrp.clixml.string-escape"], spec=SC + ".3.2; ERRATA PSRP-10", errata=["PSRP-10"])
    accepts("escape-surrogates", "Surrogate halves escaped one by one (_xD83D__xDE00_) are taken", "<S>smile _xD83D__xDE00_</S>",
            "PowerShell escapes each surrogate half", ["psrp.clixml.string-escape"], spec="ERRATA PSRP-10", errata=["PSRP-10"])
    accepts("escape-underscore", "An escaped underscore before x (_x005F_x0041_) is taken", "<S>_x005F_x0041_</S>",
            "An underscore that would start an escape is itself escaped (_x005F_)", ["psrp.clixml.escape-literal-underscore"], spec=SC + ".3.2", errata=["PSRP-10"])
    accepts("escape-invalid-literal", "Text that looks like a broken escape (_xZZZZ_, _x12_) is taken as literal text", "<S>_xZZZZ_ and _x12_ stay</S>",
            "text that is not a valid escape stays literal", ["psrp.clixml.escape-literal-underscore"], spec=SC + ".3.2", errata=["PSRP-10"])
    accepts("escape-in-property-name", "An escaped property name (N attribute) is taken",
            "<Obj RefId=\"0\"><MS><S N=\"a_x0020_b\">v</S></MS></Obj>", "Property names MUST be encoded as described in section 2.2.5.3.2",
            ["psrp.clixml.string-escape"], spec=SC + ".3.1")
    accepts("xml-escapes", "XML character references and entities (&lt; &amp; &#x41;) are taken", "<S>&lt;tag&gt; &amp; &#x41;&#66;</S>",
            "XML Content: follows the XML schema specification for the string data type", ["psrp.clixml.primitives"], spec=SC + ".1.1")
    accepts("xml-declaration", "A body with an XML declaration is taken", "<?xml version=\"1.0\" encoding=\"utf-8\"?><S>declared</S>",
            "The resulting XML document MAY have an XML declaration", ["psrp.clixml.xml-declaration"])
    accepts("namespace", "A body that names the CLIXML namespace is taken", "<S xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">ns</S>",
            "Serialization MAY indicate the XML namespace using the xmlns attribute", ["psrp.clixml.namespace"])
    accepts("ref", "A Ref to an object serialized earlier in the same body is resolved",
            "<Obj RefId=\"0\"><MS><Obj N=\"first\" RefId=\"1\"><MS><S N=\"x\">shared</S></MS></Obj><Ref N=\"again\" RefId=\"1\" /></MS></Obj>",
            "the serializer SHOULD choose to output only the Ref element (instead of the element with full object data)", ["psrp.clixml.refid"], spec=SC + ".2.1")
    accepts("tnref", "A TNRef to type names listed earlier in the same body is resolved",
            "<Obj RefId=\"0\"><TN RefId=\"0\"><T>Deserialized.Peercheck.Thing</T><T>Deserialized.System.Object</T></TN><MS><Obj N=\"inner\" RefId=\"1\"><TNRef RefId=\"0\" /><ToString>inner</ToString><Props><S N=\"p\">v</S></Props></Obj></MS></Obj>",
            "The TN element always has a RefId attribute which identifies the type information; the element may be referenced later by TNRef elements",
            ["psrp.clixml.tnref"], spec=SC + ".2.3")
    accepts("containers", "Stack, queue, list and dictionary containers are taken",
            "<Obj RefId=\"0\"><MS><Obj N=\"stk\" RefId=\"1\"><STK><I32>1</I32><I32>2</I32></STK></Obj><Obj N=\"que\" RefId=\"2\"><QUE><S>a</S></QUE></Obj>"
            "<Obj N=\"lst\" RefId=\"3\"><LST><B>true</B><Nil /></LST></Obj><Obj N=\"ie\" RefId=\"4\"><IE><I32>5</I32></IE></Obj>"
            "<Obj N=\"dct\" RefId=\"5\"><DCT><En><S N=\"Key\">k</S><I32 N=\"Value\">1</I32></En></DCT></Obj></MS></Obj>",
            "Contents of Known Containers: Stack, Queue, List, Dictionaries", ["psrp.clixml.containers"], spec=SC + ".2.6", errata=["PSRP-9"])
    accepts("enum", "An enum (type names, ToString and an I32 value) is taken",
            "<Obj RefId=\"0\"><TN RefId=\"0\"><T>System.ConsoleColor</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Red</ToString><I32>12</I32></Obj>",
            "Contents of Enums: the underlying value as a primitive element", ["psrp.clixml.primitives"], spec=SC + ".2.7")
    accepts("nested-30", "Thirty nested objects are taken",
            "<Obj RefId=\"0\"><MS>" + "".join(f"<Obj N=\"n\" RefId=\"{i}\"><MS>" for i in range(1, 30)) + "<I32 N=\"leaf\">1</I32>" + "</MS></Obj>" * 29 + "</MS></Obj>",
            "Complex objects nest through MS / Props", ["psrp.clixml.primitives"], spec=SC + ".2")
    accepts("with-semantic-version", "A SemanticVersion element (PowerShell 7) is taken or skipped without breaking the pool",
            "<Obj RefId=\"0\"><MS><Version N=\"v\">7.4.0</Version></MS></Obj>", "Version: major.minor[.build[.revision]]", ["psrp.clixml.primitives"], spec=SC + ".1.21; ERRATA PSRP-9", errata=["PSRP-9"])
    refuses("malformed-unclosed", "A body whose XML is not well-formed stops the pipeline or closes the pool", "<S>never closed",
            "If there are any errors while processing a pipeline message, then that pipeline MUST be stopped", ["psrp.clixml.malformed-refused"], spec="MS-PSRP §3.1.7 / §3.2.5.1")
    refuses("malformed-mismatched", "Mismatched XML tags stop the pipeline or close the pool", "<Obj RefId=\"0\"><MS><S N=\"a\">x</I32></MS></Obj>",
            "If there are any errors while processing a pipeline message, then that pipeline MUST be stopped", ["psrp.clixml.malformed-refused"], spec="MS-PSRP §3.1.7 / §3.2.5.1")
    refuses("bad-integer", "An I32 whose text is not a number stops the pipeline or closes the pool", "<I32>forty-two</I32>",
            "Signed Int: XML Content follows the XML schema for int", ["psrp.clixml.malformed-refused", "psrp.clixml.primitives"], spec=SC + ".1.11")
    refuses("integer-overflow", "An I32 outside the 32-bit range stops the pipeline or closes the pool", "<I32>4294967296</I32>",
            "Signed Int: XML Content follows the XML schema for int", ["psrp.clixml.malformed-refused", "psrp.clixml.primitives"], spec=SC + ".1.11")
    scenario("psrp.clixml.ref-unknown", "A Ref to a RefId never defined is refused cleanly or taken; the server never hangs",
             SC + ".2.1", "A Ref names an object serialized earlier by the same serializer", "should", "server",
             ["psrp.clixml.refid", "psrp.clixml.malformed-refused"], ["clixml", "negative"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output")
             + tolerant_pipeline({"pipeline-input": {"pid": P1, "objectId": 3000, "clixml": "<Obj RefId=\"0\"><MS><Ref N=\"dangling\" RefId=\"99\" /></MS></Obj>"}}, "taken (the pipeline ends) or refused cleanly"),
             params={"framing": "outofproc"}, ignore=RUN_IGNORE)
    refuses("bad-base64-bytes", "A BA whose content is not base64 stops the pipeline or closes the pool", "<BA>@@not base64@@</BA>",
            "Array of Bytes: XML Content follows the XML schema for base64Binary", ["psrp.clixml.malformed-refused", "psrp.clixml.primitives"], spec=SC + ".1.17", level="should")
    deep = "<Obj RefId=\"0\"><MS>" + "<Obj N=\"n\"><MS>" * 1000 + "</MS></Obj>" * 1000 + "</MS></Obj>"
    scenario("psrp.clixml.deep-nesting", "1000 nested objects (over any sane depth limit) are refused cleanly or taken: the server never hangs",
             SC + " (receiver limits)", "Nesting deeper than the receiver's limit is refused cleanly (pipeline or pool closed)", "should", "server",
             ["psrp.clixml.depth-limit"], ["clixml", "negative", "limits"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output")
             + tolerant_pipeline({"pipeline-input": {"pid": P1, "objectId": 3000, "clixml": deep}}, "taken (the pipeline ends) or refused cleanly"),
             params={"framing": "outofproc"}, ignore=RUN_IGNORE)
    scenario("psrp.clixml.unknown-element", "An element that is not CLIXML (<Frob>) is refused cleanly or skipped",
             SC, "An element that is not one of 2.2.5's is either skipped or refused cleanly", "should", "server",
             ["psrp.clixml.unknown-element"], ["clixml", "negative"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output")
             + tolerant_pipeline({"pipeline-input": {"pid": P1, "objectId": 3000, "clixml": "<Frob>1</Frob>"}}, "taken (the pipeline ends) or refused cleanly"),
             params={"framing": "outofproc"}, ignore=RUN_IGNORE)
    scenario("psrp.clixml.objs-root", "A body wrapped in an <Objs> root (the file format, not the wire format) is refused cleanly or taken",
             "ERRATA PSRP-4", "Data is CLIXML with no <Objs> root and no namespace", "should", "server",
             ["psrp.header.data-no-objs-root"], ["clixml", "errata"],
             [OPEN] + start_pipeline(no_input=False, cmd="Write-Output")
             + tolerant_pipeline({"pipeline-input": {"pid": P1, "objectId": 3000, "clixml": "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S>x</S></Objs>"}}, "taken (the pipeline ends) or refused cleanly"),
             params={"framing": "outofproc"}, ignore=RUN_IGNORE, errata=["PSRP-4"])
    scenario("psrp.clixml.capability-no-bom-typed", "SESSION_CAPABILITY as PowerShell writes it on the wire (no BOM, Version elements) is taken",
             "MS-PSRP §2.2.2.1; ERRATA PSRP-4", "SESSION_CAPABILITY: protocolversion, PSVersion, SerializationVersion as Version elements",
             "must", "server", ["psrp.msg.session-capability.fields", "psrp.header.bom-optional"], ["clixml", "capability"], [
                 {"send": {"session-capability": {"bom": False, "clixml": "<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version><Version N=\"PSVersion\">2.0</Version><Version N=\"SerializationVersion\">1.1.0.1</Version></MS></Obj>"}}},
                 {"expect": {"session-capability": CAP_OK}, "within": "3s"},
             ], errata=["PSRP-4"])


def run():
    preludes()
    capability()
    pool()
    keyx()
    pipeline()
    fragments()
    oop()
    clixml()
