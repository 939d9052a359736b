"""Client-role scenarios (the implementation under test is the PSRP client; the suite plays the server)."""
from lib import *

OOPP = {"framing": "outofproc"}
RP = "${rpid}"
PID = "${pid}"
PROF_KEYX = ["psrp-2.0", "psrp-2.1", "psrp-2.2", "psrp-2.3"]
CLIENT_DONE = {"expect": {"oop.close": {}}, "within": "3s",
               "note": "a client that took everything closes normally with <Close> (pipeline or pool)"}
CLIENT_GIVES_UP = {"expect-close": {"within": "3s", "allow": ["oop.close", "oop.signal"]},
                   "note": "a correct client stops the pipeline / closes the pool and ends the session"}


def preludes():
    prelude("client-open", "Play the server while the client opens its RunspacePool: answer SESSION_CAPABILITY (all-zero RPID, "
            "ERRATA PSRP-8), take INIT_RUNSPACEPOOL (captures `rpid`), send APPLICATION_PRIVATE_DATA and RUNSPACEPOOL_STATE Opened", [
        {"expect": {"session-capability": {"protocolVersion": {"regex": "^2\\.[0-9]+$"}}}, "within": "3s",
         "note": "SESSION_CAPABILITY MUST be the first message sent to the server (§3.1.5.4.1.1)"},
        {"send": {"session-capability": {"rpid": NIL}}},
        {"expect": {"init-runspacepool": {"rpid": {"capture": "rpid"}}}, "within": "3s"},
        {"send": {"application-private-data": {"rpid": RP}}},
        {"send": {"runspacepool-state": {"runspaceState": 2, "rpid": RP}}},
    ])
    prelude("client-pipeline", "OutOfProc: take the client's <Command> (captures `pid`), acknowledge it, then take its CREATE_PIPELINE", [
        {"expect": {"oop.command": {"psGuid": {"capture": "pid"}}}, "within": "3s",
         "note": "the client announces its pipeline with <Command> first"},
        {"send": {"oop.command-ack": {"psGuid": PID}}},
        {"expect": {"create-pipeline": {"pid": PID, "rpid": RP}}, "within": "3s"},
    ])
    prelude("client-pipeline-fragments", "Raw fragments: take the client's CREATE_PIPELINE (captures `pid`)", [
        {"expect": {"create-pipeline": {"pid": {"capture": "pid"}, "rpid": RP}}, "within": "3s"},
    ])


OPEN = {"include": "psrp/client-open"}
PIPE = {"include": "psrp/client-pipeline"}


def finish(state=4, extra=None):
    f = {"pid": PID, "rpid": RP, "pipelineState": state}
    if extra:
        f.update(extra)
    return {"send": {"pipeline-state": f}}


def out(value):
    return {"send": {"pipeline-output": {"pid": PID, "rpid": RP, "value": value}}}


def c(sid, title, spec, requirement, level, covers, tags, steps, **kw):
    kw.setdefault("params", OOPP)
    scenario(sid, title, spec, requirement, level, "client", covers, ["client"] + tags, steps, **kw)


def opening():
    c("psrp.client.capability-first", "The client's first message is SESSION_CAPABILITY",
      "MS-PSRP §3.1.5.4.1.1 SESSION_CAPABILITY", "The SESSION_CAPABILITY message MUST be the first message sent to the server.", "must",
      ["psrp.client.capability-first", "psrp.msg.session-capability.fields"], ["capability"],
      [{"expect": {"session-capability": {"destination": "server", "pid": NIL}}, "within": "3s"}], params=None)
    c("psrp.client.capability-versions", "The client announces PSVersion 2.0, SerializationVersion 1.1.0.1 and protocol 2.1 or later",
      "MS-PSRP §3.1.5.4.1.1; ERRATA PSRP-5", "protocolversion MUST be 2.1 or 2.2 [2.3, 2.4 today]; PSVersion MUST be 2.0; SerializationVersion MUST be 1.1.0.1", "must",
      ["psrp.client.capability-versions"], ["capability", "version"],
      [{"expect": {"session-capability": {"protocolVersion": {"regex": "^2\\.[1-9]$"}, "psVersion": "2.0", "serializationVersion": "1.1.0.1"}}, "within": "3s"}],
      profiles=["psrp-2.1", "psrp-2.2", "psrp-2.3", "psrp-2.4"], errata=["PSRP-5"], params=None)
    c("psrp.client.init-after-capability", "INIT_RUNSPACEPOOL follows SESSION_CAPABILITY, addressed to the server, under the pool's RPID",
      "MS-PSRP §3.1.5.4.2 INIT_RUNSPACEPOOL", "The RunspacePool MUST be in an Opening or NegotiationSucceeded state when this message is sent", "must",
      ["psrp.client.init-after-capability", "psrp.msg.init-runspacepool.fields", "psrp.header.destination-values", "psrp.header.rpid"], ["open"],
      [{"expect": {"session-capability": {"rpid": {"capture": "rpid"}}}, "within": "3s"},
       {"send": {"session-capability": {"rpid": NIL}}},
       {"expect": {"init-runspacepool": {"rpid": RP, "destination": "server", "minRunspaces": {"range": [1, None]}, "maxRunspaces": {"range": [1, None]}}}, "within": "3s"}],
      params=None)
    c("psrp.client.capability-once", "The client sends SESSION_CAPABILITY and INIT_RUNSPACEPOOL once, then waits for the pool to open",
      "MS-PSRP §3.1.5.4.1.1; §3.1.5.4.2", "This message MUST be sent only once per RunspacePool", "must",
      ["psrp.client.capability-once", "psrp.client.init-once", "psrp.client.pipeline-after-opened"], ["open"],
      [{"expect": {"session-capability": {}}, "within": "3s"}, {"send": {"session-capability": {"rpid": NIL}}},
       {"expect": {"init-runspacepool": {}}, "within": "3s"}, {"expect-silence": "500ms"}], params=None)
    c("psrp.client.waits-for-opened", "No pipeline before RUNSPACEPOOL_STATE Opened, even after APPLICATION_PRIVATE_DATA",
      "MS-PSRP §3.1.5.2 rule 1; §3.1.5.4.10", "CREATE_PIPELINE MAY be sent when the RunspacePool state is Opened", "must",
      ["psrp.client.pipeline-after-opened"], ["open", "state"],
      [{"expect": {"session-capability": {}}, "within": "3s"}, {"send": {"session-capability": {"rpid": NIL}}},
       {"expect": {"init-runspacepool": {"rpid": {"capture": "rpid"}}}, "within": "3s"},
       {"send": {"application-private-data": {"rpid": RP}}}, {"expect-silence": "500ms"},
       {"send": {"runspacepool-state": {"runspaceState": 2, "rpid": RP}}},
       {"expect": {"oop.command": {}}, "within": "3s"}])
    c("psrp.client.zero-rpid-capability", "A server SESSION_CAPABILITY with an all-zero RPID is normal: the pool opens and the pipeline starts",
      "ERRATA PSRP-8", "The server's SESSION_CAPABILITY carries an all-zero RPID when a pool is opened; that is normal", "must",
      ["psrp.client.server-capability-zero-rpid", "psrp.header.rpid-zero-capability"], ["open", "errata"],
      [OPEN, PIPE], errata=["PSRP-8"])
    c("psrp.client.pool-rpid-capability", "A server SESSION_CAPABILITY under the pool's RPID is taken as well",
      "MS-PSRP §2.2.1 RPID; ERRATA PSRP-8", "RPID: the instance ID of the RunspacePool on the client", "must",
      ["psrp.client.server-capability-zero-rpid", "psrp.header.rpid"], ["open"],
      [{"expect": {"session-capability": {}}, "within": "3s"}, {"expect": {"init-runspacepool": {"rpid": {"capture": "rpid"}}}, "within": "3s"},
       {"send": {"session-capability": {"rpid": RP}}}, {"send": {"application-private-data": {"rpid": RP}}},
       {"send": {"runspacepool-state": {"runspaceState": 2, "rpid": RP}}}, PIPE])
    for v in ["2.1", "2.2", "2.3", "2.4"]:
        c(f"psrp.client.server-{v.replace('.', '-')}", f"A server answering protocol {v} is accepted: the client runs its pipeline",
          "MS-PSRP §3.1.5.4.1.2 Receiving from the Server; ERRATA PSRP-5", "If server protocolversion is 2.1 or 2.2, then the client SHOULD also change the RunspacePool state to NegotiationSucceeded", "should",
          ["psrp.client.capability-versions"], ["open", "version"],
          [{"expect": {"session-capability": {}}, "within": "3s"}, {"send": {"session-capability": {"rpid": NIL, "protocolVersion": v}}},
           {"expect": {"init-runspacepool": {"rpid": {"capture": "rpid"}}}, "within": "3s"},
           {"send": {"application-private-data": {"rpid": RP}}}, {"send": {"runspacepool-state": {"runspaceState": 2, "rpid": RP}}}, PIPE],
          profiles=[f"psrp-{v}"], errata=["PSRP-5"])
    c("psrp.client.server-version-1-0", "A server answering protocol 1.0 breaks the pool: the client does not start a pipeline",
      "MS-PSRP §3.1.5.4.1.2 Receiving from the Server", "In all other cases, the client MUST change the RunspacePool state to Broken.", "must",
      ["psrp.client.server-capability-broken"], ["open", "version", "negative"],
      [{"expect": {"session-capability": {}}, "within": "3s"},
       {"expect": {"init-runspacepool": {}}, "within": "3s", "note": "PowerShell and psrpcore send INIT_RUNSPACEPOOL right after their capability"},
       {"send": {"session-capability": {"rpid": NIL, "protocolVersion": "1.0"}}},
       {"expect-close": {"within": "3s", "allow": ["oop.close", "oop.signal"]},
        "note": "the pool is Broken: no pipeline may start"}])
    c("psrp.client.private-data-rich", "APPLICATION_PRIVATE_DATA with PowerShell's PSVersionTable dictionary is taken",
      "MS-PSRP §2.2.2.13 APPLICATION_PRIVATE_DATA", "Application private data [...] passed by the protocol without interpretation", "must",
      ["psrp.server.private-data"], ["open", "clixml"],
      [{"expect": {"session-capability": {}}, "within": "3s"}, {"send": {"session-capability": {"rpid": NIL}}},
       {"expect": {"init-runspacepool": {"rpid": {"capture": "rpid"}}}, "within": "3s"},
       {"send": {"application-private-data": {"rpid": RP, "clixml":
           "<Obj RefId=\"0\"><MS><Obj N=\"ApplicationPrivateData\" RefId=\"1\"><TN RefId=\"0\"><T>System.Management.Automation.PSPrimitiveDictionary</T><T>System.Collections.Hashtable</T><T>System.Object</T></TN>"
           "<DCT><En><S N=\"Key\">PSVersionTable</S><Obj N=\"Value\" RefId=\"2\"><TNRef RefId=\"0\" /><DCT><En><S N=\"Key\">PSVersion</S><Version N=\"Value\">7.4.0</Version></En>"
           "<En><S N=\"Key\">PSEdition</S><S N=\"Value\">Core</S></En></DCT></Obj></En></DCT></Obj></MS></Obj>"}}},
       {"send": {"runspacepool-state": {"runspaceState": 2, "rpid": RP}}}, PIPE])
    c("psrp.client.availability-before-open", "RUNSPACE_AVAILABILITY before the pool is open is out of state: the client gives up",
      "MS-PSRP §3.1.5.4.8; §3.1.5.1 rule 3", "When this message is received, the RunspacePool MUST be in an Opened state; a message for a RunspacePool that is not in the correct state: the client MUST stop any executing pipelines and close that RunspacePool", "must",
      ["psrp.client.wrong-state-closes"], ["open", "state", "negative"],
      [{"expect": {"session-capability": {}}, "within": "3s"}, {"send": {"session-capability": {"rpid": NIL}}},
       {"expect": {"init-runspacepool": {"rpid": {"capture": "rpid"}}}, "within": "3s"},
       {"send": {"runspace-availability": {"rpid": RP, "ci": 1, "setMinMaxRunspacesResponse": True}}}, CLIENT_GIVES_UP])
    c("psrp.client.pool-broken", "RUNSPACEPOOL_STATE Broken instead of Opened: the client starts no pipeline and ends",
      "MS-PSRP §3.1.5.4.9 RUNSPACEPOOL_STATE; §3.1.5.1", "A RUNSPACEPOOL_STATE Broken ends the pool: the client stops its pipelines and closes", "must",
      ["psrp.client.pool-state-broken"], ["open", "state", "negative"],
      [{"expect": {"session-capability": {}}, "within": "3s"}, {"send": {"session-capability": {"rpid": NIL}}},
       {"expect": {"init-runspacepool": {"rpid": {"capture": "rpid"}}}, "within": "3s"},
       {"send": {"runspacepool-state": {"runspaceState": 5, "rpid": RP}}}, CLIENT_GIVES_UP])
    c("psrp.client.pool-broken-while-running", "RUNSPACEPOOL_STATE Broken while the pipeline runs ends the session",
      "MS-PSRP §3.1.5.4.9; §3.1.5.1 rule 3", "the client MUST stop any executing pipelines and close that RunspacePool", "must",
      ["psrp.client.pool-state-broken"], ["state", "negative"],
      [OPEN, PIPE, {"send": {"runspacepool-state": {"runspaceState": 5, "rpid": RP}}}, CLIENT_GIVES_UP])
    c("psrp.client.split-capability", "The server's answers split into many writes are reassembled by the client",
      "MS-PSRP §3.1.5.1.2 Rules for Receiving Data", "The client completes a message at its End fragment, however the bytes arrive", "must",
      ["psrp.fragment.reassemble-any-split"], ["open", "faults"],
      [{"expect": {"session-capability": {}}, "within": "3s"}, {"send": {"session-capability": {"rpid": NIL}}, "fault": [{"split": 40}]},
       {"expect": {"init-runspacepool": {"rpid": {"capture": "rpid"}}}, "within": "3s"},
       {"send": {"application-private-data": {"rpid": RP}}, "fault": [{"split": 5}]},
       {"send": {"runspacepool-state": {"runspaceState": 2, "rpid": RP}}, "fault": [{"delay": "50ms"}, {"split": 3}]}, PIPE])
    c("psrp.client.bom-absent", "Server messages without a BOM are taken by the client",
      "ERRATA PSRP-4", "receivers accept data with or without it", "must", ["psrp.header.bom-optional"], ["open", "bom", "errata"],
      [OPEN, PIPE, out({"S": "no bom"}), finish(), CLIENT_DONE], params={"framing": "outofproc", "bom": "false"}, errata=["PSRP-4"])
    c("psrp.client.small-fragments", "Server messages in 40-byte fragments are reassembled by the client",
      "MS-PSRP §3.1.5.1.2 Rules for Receiving Data", "after an EndFragment a whole PSRP message is stored", "must",
      ["psrp.fragment.reassemble-any-split", "psrp.fragment.consecutive"], ["fragment"],
      [OPEN, PIPE, out({"S": "small pieces"}), finish(), CLIENT_DONE], params={"framing": "outofproc", "max-fragment-size": "40"})


def pipeline():
    c("psrp.client.command-first", "OutOfProc: the client announces its pipeline with <Command> and sends CREATE_PIPELINE only after <CommandAck>",
      "PowerShell OutOfProc transport", "A client sends <Command PSGuid=pid/> and waits for <CommandAck/> before the pipeline's CREATE_PIPELINE data", "must",
      ["psrp.oop.client-command-first", "psrp.client.pipeline-after-opened"], ["pipeline", "outofproc"],
      [OPEN, {"expect": {"oop.command": {"psGuid": {"capture": "pid"}}}, "within": "3s"}, {"expect-silence": "400ms"},
       {"send": {"oop.command-ack": {"psGuid": PID}}}, {"expect": {"create-pipeline": {"pid": PID}}, "within": "3s"}])
    c("psrp.client.create-pipeline", "CREATE_PIPELINE carries the pipeline PID (the <Command> PSGuid), the pool RPID and at least one command",
      "MS-PSRP §2.2.2.10 CREATE_PIPELINE; ERRATA PSRP-3", "PID: the instance ID of the pipeline on the client; OutOfProc PSGuid must match the pipeline id", "must",
      ["psrp.msg.create-pipeline.fields", "psrp.header.pid", "psrp.oop.psguid-matches-pid"], ["pipeline"],
      [OPEN, {"expect": {"oop.command": {"psGuid": {"capture": "pid"}}}, "within": "3s"}, {"send": {"oop.command-ack": {"psGuid": PID}}},
       {"expect": {"create-pipeline": {"pid": PID, "rpid": RP, "destination": "server", "commands": {"len": {"range": [1, None]}}}}, "within": "3s"}],
      errata=["PSRP-3"])
    c("psrp.client.create-pipeline-fragments", "Raw fragments: after RUNSPACEPOOL_STATE Opened the client sends CREATE_PIPELINE",
      "MS-PSRP §3.1.5.4.10 CREATE_PIPELINE", "This message MAY be sent from a PowerShell client to a PowerShell server when the RunspacePool state is Opened", "must",
      ["psrp.client.pipeline-after-opened", "psrp.msg.create-pipeline.fields", "psrp.fragment.big-endian"], ["pipeline", "fragments"],
      [OPEN, {"include": "psrp/client-pipeline-fragments"}], params={"framing": "fragments"})
    c("psrp.client.completed", "Output and PIPELINE_STATE Completed: the client finishes and closes with <Close>",
      "MS-PSRP §3.1.4.3; PowerShell OutOfProc", "The client receives result messages and hands them to the higher layer; when done it closes with <Close>", "must",
      ["psrp.oop.client-close", "psrp.msg.pipeline-state.fields"], ["pipeline", "close"],
      [OPEN, PIPE, out({"S": "hello"}), finish(), CLIENT_DONE])
    c("psrp.client.close-handshake", "The client's <Close> is answered with <CloseAck>; the client then ends the session",
      "PowerShell OutOfProc transport", "When done, the client closes with <Close PSGuid=…/> and waits for <CloseAck/>", "should",
      ["psrp.oop.client-close"], ["pipeline", "close"],
      [OPEN, PIPE, finish(), {"expect": {"oop.close": {"psGuid": {"capture": "closing"}}}, "within": "3s"},
       {"send": {"oop.close-ack": {"psGuid": "${closing}"}}},
       # A client may close the pipeline and then the pool, each waiting for its own CloseAck (psrpcore
       # waits 10 s for the second): both that and ending after the first are correct.
       {"expect-close": {"within": "12s", "allow": ["oop.close"]}}])
    c("psrp.client.no-messages-after-completed", "After PIPELINE_STATE Completed the client sends nothing more for that pipeline except closing it",
      "MS-PSRP §3.1.1.3.2 Pipeline State", "When the pipeline state is changed to Completed or Stopped or Failed, the PowerShell client MUST not send any more messages to the PowerShell server targeted to that particular pipeline", "must",
      ["psrp.client.no-messages-after-end"], ["pipeline", "state"],
      [OPEN, PIPE, finish(), {"expect": {"oop.close": {}}, "within": "3s"}])
    c("psrp.client.fragments-completed", "Raw fragments: output and Completed end the client's pipeline; it closes the connection",
      "MS-PSRP §3.1.4.3 Executing a Pipeline", "The client receives result messages from the server and hands over the result data to the higher layer", "must",
      ["psrp.msg.pipeline-state.fields", "psrp.fragment.big-endian"], ["pipeline", "fragments"],
      [OPEN, {"include": "psrp/client-pipeline-fragments"}, out({"S": "raw"}), finish(), {"expect-close": {"within": "3s"}}],
      params={"framing": "fragments"})
    c("psrp.client.state-failed", "PIPELINE_STATE Failed with an error record is processed: the client ends the pipeline and closes",
      "MS-PSRP §3.1.1.3.2 Pipeline State", "If a PowerShell server sends a State Information message with a Failed state, then the PowerShell client MUST process this message and change the pipeline state to Failed accordingly.", "must",
      ["psrp.client.pipeline-state-failed"], ["pipeline", "state"],
      [OPEN, PIPE, finish(5, {"exceptionAsErrorRecord": {"Obj": {"typeNames": ["System.Management.Automation.ErrorRecord", "System.Object"], "toString": "boom",
                                                                   "ms": [{"name": "FullyQualifiedErrorId", "value": {"S": "RemotePSInvocationStateInfoReason"}},
                                                                          # §2.2.3.15: an ErrorRecord carries its ErrorCategory members
                                                                          {"name": "ErrorCategory_Category", "value": {"I32": 0}},
                                                                          {"name": "ErrorCategory_Activity", "value": {"S": ""}},
                                                                          {"name": "ErrorCategory_Reason", "value": {"S": "RuntimeException"}},
                                                                          {"name": "ErrorCategory_TargetName", "value": {"S": ""}},
                                                                          {"name": "ErrorCategory_TargetType", "value": {"S": ""}},
                                                                          {"name": "ErrorCategory_Message", "value": {"S": "NotSpecified: (:) [], RuntimeException"}},
                                                                          {"name": "SerializeExtendedInfo", "value": {"B": False}}]}}}),
       {"expect": {"oop.close": {}}, "within": "3s"}])
    c("psrp.client.state-stopped", "PIPELINE_STATE Stopped ends the client's pipeline",
      "MS-PSRP §3.1.5.4.21 PIPELINE_STATE", "Once a pipeline reaches a Completed or Failed or Stopped state, the PowerShell client MUST remove the pipeline", "must",
      ["psrp.msg.pipeline-state.fields", "psrp.client.no-messages-after-end"], ["pipeline", "state"],
      [OPEN, PIPE, finish(3), {"expect": {"oop.close": {}}, "within": "3s"}])
    c("psrp.client.pool-pipeline-state-ignored", "A PIPELINE_STATE targeted to the RunspacePool (PID zero) does not end the client's pipeline",
      "MS-PSRP §3.1.5.4.21 PIPELINE_STATE", "The PowerShell client SHOULD ignore PIPELINE_STATE messages targeted to RunspacePools.", "should",
      ["psrp.client.pipeline-state-pool-ignored"], ["pipeline", "state"],
      [OPEN, PIPE, {"send": {"pipeline-state": {"pid": NIL, "rpid": RP, "pipelineState": 4}}}, {"expect-silence": "500ms"},
       out({"S": "still running"}), finish(), CLIENT_DONE])
    c("psrp.client.many-outputs", "Two hundred PIPELINE_OUTPUT messages, then Completed: the client takes them all",
      "MS-PSRP §3.1.5.4.19 PIPELINE_OUTPUT", "The PowerShell client's pipeline MUST be in a Running state while processing this message", "must",
      ["psrp.msg.records.accepted"], ["pipeline", "load"],
      [OPEN, PIPE] + [out({"I32": i}) for i in range(200)] + [finish(), CLIENT_DONE])
    c("psrp.client.large-output", "A 100000-character output (several 32 KiB fragments) is reassembled by the client",
      "MS-PSRP §2.2.4; ERRATA PSRP-6", "receivers enforce per-object limits (200 MB on the client), not per-blob", "must",
      ["psrp.fragment.reassemble-any-split", "psrp.fragment.size-includes-header"], ["pipeline", "fragment", "errata"],
      [OPEN, PIPE, out({"S": "0123456789" * 10000}), finish(), CLIENT_DONE], errata=["PSRP-6"])
    for rec, fields, title in [
        ("error-record", {"message": "something failed", "fullyQualifiedErrorId": "PeercheckError"}, "ERROR_RECORD"),
        ("debug-record", {"message": "debugging"}, "DEBUG_RECORD"), ("verbose-record", {"message": "verbosely"}, "VERBOSE_RECORD"),
        ("warning-record", {"message": "careful"}, "WARNING_RECORD"),
        ("progress-record", {"activity": "Working", "activityId": 1, "statusDescription": "half", "percentComplete": 50}, "PROGRESS_RECORD"),
        ("information-record", {"messageData": {"S": "info"}, "source": "peercheck", "tags": ["PSHOST"],
                                "timeGenerated": "2026-01-01T00:00:00.0000000Z"}, "INFORMATION_RECORD")]:
        f = {"pid": PID, "rpid": RP}
        f.update(fields)
        c(f"psrp.client.{rec}", f"{title} while the pipeline runs is taken; the pipeline then completes",
          "MS-PSRP §3.1.4.3 Executing a Pipeline; §3.1.5.4.20-25", "Only the following result messages are expected at this stage: PIPELINE_OUTPUT, ERROR_RECORD, DEBUG_RECORD, VERBOSE_RECORD, WARNING_RECORD, PROGRESS_RECORD, PIPELINE_HOST_CALL, and PIPELINE_STATE", "must",
          ["psrp.msg.records.accepted"], ["pipeline", "records"],
          [OPEN, PIPE, {"send": {rec: f}}, finish(), CLIENT_DONE])
    c("psrp.client.records-mixed", "Every record type interleaved with output, then Completed",
      "MS-PSRP §3.1.4.3 Executing a Pipeline", "Only the following result messages are expected at this stage [...]", "must",
      ["psrp.msg.records.accepted"], ["pipeline", "records"],
      [OPEN, PIPE, {"send": {"verbose-record": {"pid": PID, "rpid": RP, "message": "v"}}}, out({"S": "1"}),
       {"send": {"warning-record": {"pid": PID, "rpid": RP, "message": "w"}}}, {"send": {"progress-record": {"pid": PID, "rpid": RP, "activity": "a"}}},
       out({"S": "2"}), {"send": {"error-record": {"pid": PID, "rpid": RP, "message": "e", "fullyQualifiedErrorId": "E"}}},
       {"send": {"debug-record": {"pid": PID, "rpid": RP, "message": "d"}}}, finish(), CLIENT_DONE])
    c("psrp.client.unknown-type-stops", "An unknown message type while the pipeline runs makes the client stop",
      "MS-PSRP §3.1.4.3 Executing a Pipeline", "If the client receives any other message, then the client MUST stop the pipeline", "must",
      ["psrp.client.unexpected-message-stops", "psrp.header.unknown-type"], ["pipeline", "negative"],
      [OPEN, PIPE, {"send": {"unknown": {"messageType": 0x00041099, "pid": PID, "rpid": RP, "clixml": "<S>?</S>"}}}, CLIENT_GIVES_UP])
    c("psrp.client.2013-init-data-type", "A message under the 2013 table's RUNSPACEPOOL_INIT_DATA value (0x00010031) while the pipeline runs makes the client stop",
      "ERRATA PSRP-1; MS-PSRP §3.1.4.3", "RUNSPACEPOOL_INIT_DATA = 0x0002100B; the 2013 value 0x00010031 is wrong; any other message stops the pipeline", "must",
      ["psrp.header.current-table", "psrp.client.unexpected-message-stops"], ["pipeline", "negative", "errata"],
      [OPEN, PIPE, {"send": {"unknown": {"messageType": 0x00010031, "rpid": RP, "clixml": "<Obj RefId=\"0\"><MS><I32 N=\"MinRunspaces\">1</I32><I32 N=\"MaxRunspaces\">1</I32></MS></Obj>"}}},
       CLIENT_GIVES_UP], errata=["PSRP-1"])
    c("psrp.client.user-event", "USER_EVENT on the open pool is taken; the client runs its pipeline",
      "MS-PSRP §2.2.2.12 USER_EVENT; §3.1.5.4.12", "The PowerShell client's RunspacePool MUST be in an Opened state while processing this message", "must",
      ["psrp.msg.user-event.accepted"], ["pool", "event"],
      [OPEN, {"send": {"user-event": {"rpid": RP, "eventIdentifier": 1, "sourceIdentifier": "peercheck", "computerName": "sim", "messageData": {"S": "ping"},
                                     "timeGenerated": "2026-01-01T00:00:00.0000000Z"}}}, PIPE])
    c("psrp.client.init-data-after-open", "RUNSPACEPOOL_INIT_DATA on the open pool updates the pool's information; the client carries on",
      "MS-PSRP §3.1.5.4.29 RUNSPACEPOOL_INIT_DATA; ERRATA PSRP-1", "When this message is received, the PowerShell client extracts and updates the RunspacePool information. When this message is received, the RunspacePool MUST be in the Opened state.", "must",
      ["psrp.header.current-table"], ["pool", "errata"],
      [OPEN, {"send": {"runspacepool-init-data": {"rpid": RP, "minRunspaces": 1, "maxRunspaces": 2}}}, PIPE], errata=["PSRP-1"])


def host():
    SH = "MS-PSRP §3.1.5.4.27 PIPELINE_HOST_RESPONSE; §2.2.3.17"
    c("psrp.client.host-readline", "PIPELINE_HOST_CALL ReadLine is answered with PIPELINE_HOST_RESPONSE carrying the same ci and method",
      SH, "While constructing this message, the PowerShell client MUST extract the \"ci\" (call id) value from the corresponding Host Method call and use the same value in the \"ci\" portion of the message", "must",
      ["psrp.client.host-response-ci", "psrp.client.host-response-sent", "psrp.msg.host-call.fields"], ["host"],
      [OPEN, PIPE, {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": 1, "methodId": 11, "methodName": "ReadLine"}}},
       {"expect": {"pipeline-host-response": {"ci": 1, "methodId": 11, "pid": PID, "rpid": RP, "destination": "server"}}, "within": "3s"}])
    c("psrp.client.host-ci-large", "A host call id beyond 32 bits is echoed unchanged",
      SH, "use the same value in the \"ci\" portion of the message", "must", ["psrp.client.host-response-ci"], ["host"],
      [OPEN, PIPE, {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": 8589934593, "methodId": 11}}},
       {"expect": {"pipeline-host-response": {"ci": 8589934593}}, "within": "3s"}])
    c("psrp.client.host-two-calls", "Two host calls are answered each with its own ci",
      SH, "use the same value in the \"ci\" portion of the message", "must", ["psrp.client.host-response-ci", "psrp.client.host-response-sent"], ["host"],
      [OPEN, PIPE, {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": 5, "methodId": 11}}},
       {"expect": {"pipeline-host-response": {"ci": 5}}, "within": "3s"},
       {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": 6, "methodId": 1}}},
       {"expect": {"pipeline-host-response": {"ci": 6, "methodId": 1}}, "within": "3s"}])
    c("psrp.client.host-get-name", "Host call GetName (1) is answered (a value or an error record)",
      SH, "If the Return Value column indicates that the method returns a return value, then the PowerShell client MUST send a [...] PIPELINE_HOST_RESPONSE message", "must",
      ["psrp.client.host-response-sent"], ["host"],
      [OPEN, PIPE, {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": 2, "methodId": 1}}},
       {"expect": {"pipeline-host-response": {"ci": 2}}, "within": "3s"}])
    for mid, name in [(16, "WriteLine2"), (13, "Write1"), (21, "WriteVerboseLine"), (20, "WriteProgress")]:
        params = {16: [{"S": "a line"}], 13: [{"S": "text"}], 21: [{"S": "verbose"}], 20: [{"I64": 1}, {"S": "progress"}]}[mid]
        c(f"psrp.client.host-void-{name.lower()}", f"Host call {name} ({mid}) returns nothing: the client sends no response",
          "MS-PSRP §2.2.3.17 Host Method Identifier", "If the Return Value column indicates that the method does not return a value, then the PowerShell client MUST NOT send a RUNSPACEPOOL_HOST_RESPONSE message or a PIPELINE_HOST_RESPONSE message.", "must",
          ["psrp.client.host-void-no-response", "psrp.msg.host-call.fields"], ["host"],
          [OPEN, PIPE, {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": -100, "methodId": mid, "methodName": name, "parameters": params}}},
           {"expect-silence": "400ms"}, finish(), CLIENT_DONE])
    c("psrp.client.pool-host-call", "RUNSPACEPOOL_HOST_CALL ReadLine on the open pool is answered with RUNSPACEPOOL_HOST_RESPONSE and the same ci",
      "MS-PSRP §3.1.5.4.15-16", "While constructing this message, the PowerShell client MUST extract the \"ci\" (call id) value from the RUNSPACEPOOL_HOST_CALL message", "must",
      ["psrp.client.host-response-ci", "psrp.client.pool-host-call-opened", "psrp.client.host-response-sent"], ["host", "pool"],
      [OPEN, PIPE, {"send": {"runspacepool-host-call": {"rpid": RP, "ci": 3, "methodId": 11, "methodName": "ReadLine"}}},
       {"expect": {"runspacepool-host-response": {"ci": 3, "methodId": 11, "rpid": RP, "pid": NIL}}, "within": "3s"}])
    c("psrp.client.pool-host-call-void", "RUNSPACEPOOL_HOST_CALL WriteLine2 returns nothing: no response",
      "MS-PSRP §2.2.3.17", "the PowerShell client MUST NOT send a RUNSPACEPOOL_HOST_RESPONSE message", "must",
      ["psrp.client.host-void-no-response"], ["host", "pool"],
      [OPEN, PIPE, {"send": {"runspacepool-host-call": {"rpid": RP, "ci": -100, "methodId": 16, "parameters": [{"S": "hello"}]}}},
       {"expect-silence": "400ms"}, finish(), CLIENT_DONE])
    c("psrp.client.host-call-then-complete", "A host call answered, then output and Completed: the client finishes normally",
      SH, "The client answers the host call, takes the results and ends with the pipeline", "must",
      ["psrp.client.host-response-sent", "psrp.oop.client-close"], ["host"],
      [OPEN, PIPE, {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": 4, "methodId": 11}}},
       {"expect": {"pipeline-host-response": {"ci": 4}}, "within": "3s"}, out({"S": "after host"}), finish(), CLIENT_DONE])
    c("psrp.client.host-call-fragments", "Raw fragments: a host call is answered with the same ci",
      SH, "use the same value in the \"ci\" portion of the message", "must", ["psrp.client.host-response-ci"], ["host", "fragments"],
      [OPEN, {"include": "psrp/client-pipeline-fragments"}, {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": 9, "methodId": 11}}},
       {"expect": {"pipeline-host-response": {"ci": 9}}, "within": "3s"}], params={"framing": "fragments"})
    # ---- session key
    c("psrp.client.public-key-request", "PUBLIC_KEY_REQUEST is answered with PUBLIC_KEY: a 2048-bit RSA PUBLICKEYBLOB",
      "MS-PSRP §3.1.5.4.5 PUBLIC_KEY_REQUEST; §2.2.2.3; §3.1.1.1.3", "After receiving this message, the client MUST send a PUBLIC_KEY message to the server; public key MUST be 2048-bit", "must",
      ["psrp.client.public-key-on-request", "psrp.client.public-key-2048", "psrp.msg.public-key.format"], ["keyx"],
      [OPEN, PIPE, {"send": {"public-key-request": {"rpid": NIL}}},
       {"expect": {"public-key": {"publicKey": {"regex": "^BgIAAACkAABSU0ExAAgAAA[A-Za-z0-9+/]{346}={0,2}$"}, "destination": "server"}}, "within": "4s"}],
      profiles=PROF_KEYX)
    c("psrp.client.secure-readline-needs-key", "ReadLineAsSecureString before any session key: the client first exchanges keys (PUBLIC_KEY)",
      "MS-PSRP §2.2.5.1.24 Secure String", "The key exchange MUST take place before sending a PowerShell Remoting Protocol message containing a SecureString.", "must",
      ["psrp.clixml.secure-string-key-first", "psrp.client.public-key-2048"], ["keyx", "host"],
      [OPEN, PIPE, {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": 7, "methodId": 12, "methodName": "ReadLineAsSecureString"}}},
       {"expect": {"public-key": {"publicKey": {"regex": "^BgIAAACkAABSU0Ex"}}}, "within": "4s",
        "note": "no PIPELINE_HOST_RESPONSE with a SecureString may come before the exchange"}],
      profiles=PROF_KEYX)
    c("psrp.client.secure-readline-2-4", "Protocol 2.4 on both sides: ReadLineAsSecureString is answered without a key exchange",
      "ERRATA PSRP-5", "with 2.4 on both sides the session-key exchange is dropped and SecureString carries base64 of the UTF-16LE text", "must",
      ["psrp.client.no-exchange-2.4", "psrp.client.host-response-ci"], ["keyx", "host", "errata"],
      [OPEN, PIPE, {"send": {"pipeline-host-call": {"pid": PID, "rpid": RP, "ci": 8, "methodId": 12, "methodName": "ReadLineAsSecureString"}}},
       {"expect": {"pipeline-host-response": {"ci": 8, "returnValue": {"SS": {"any": True}}}}, "within": "3s",
        "note": "with 2.4 on both sides there is no PUBLIC_KEY first"}],
      profiles=["psrp-2.4"], errata=["PSRP-5"])
    c("psrp.client.unsolicited-session-key", "An ENCRYPTED_SESSION_KEY the client never asked for makes the client give up",
      "MS-PSRP §3.1.5.4.4; §3.1.7", "If there are any errors while processing a RunspacePool message, then that RunspacePool MUST be Closed", "should",
      ["psrp.client.unsolicited-session-key"], ["keyx", "negative"],
      [OPEN, PIPE, {"send": {"encrypted-session-key": {"rpid": NIL, "encryptedSessionKey": "AQIAABBmAAAApAAA" + "A" * 344}}}, CLIENT_GIVES_UP],
      profiles=PROF_KEYX)


def wire():
    """Wire-level faults from the suite (as server) that a correct client must refuse."""
    def gives_up(name, title, spec, requirement, covers, send, level="must", errata=None, during="pipeline", extra_tags=()):
        pre = [OPEN, PIPE] if during == "pipeline" else [
            {"expect": {"session-capability": {}}, "within": "3s"}, {"send": {"session-capability": {"rpid": NIL}}},
            {"expect": {"init-runspacepool": {"rpid": {"capture": "rpid"}}}, "within": "3s"}]
        c(f"psrp.client.{name}", title, spec, requirement, level, covers, ["negative"] + list(extra_tags), pre + send + [CLIENT_GIVES_UP], errata=errata)

    SF = "MS-PSRP §2.2.4 Packet Fragment; §3.1.5.1.2 Rules for Receiving Data"
    pd = message(APPLICATION_PRIVATE_DATA, "<Obj RefId=\"0\"><MS><Obj N=\"ApplicationPrivateData\" RefId=\"1\"><DCT /></Obj></MS></Obj>", dest=1)
    a, b = split(pd, 2)
    gives_up("fragment-gap", "Server fragments with a FragmentId gap make the client close the pool", SF,
             "If at any point, it is determined that the fragments are not received in ascending order of FragmentID with the same ObjectID, the PowerShell client MUST close the appropriate RunspacePool",
             ["psrp.fragment.client-order-violation", "psrp.fragment.consecutive"],
             [{"comment": "APPLICATION_PRIVATE_DATA as ObjectId 2001 fragments 0 (S) and 2 (E)"},
              {"send-hex": hexs(data_line(fragment(2001, 0, 1, a)) + data_line(fragment(2001, 2, 2, b)))}],
             errata=["PSRP-7"], during="open", extra_tags=["fragment"])
    gives_up("fragment-from-1", "A server fragment numbered from 1 makes the client close the pool", SF,
             "FragmentId: The value of this field MUST start with 0.", ["psrp.fragment.id-starts-0", "psrp.fragment.client-order-violation"],
             [{"comment": "APPLICATION_PRIVATE_DATA as ObjectId 2002 FragmentId 1 S|E"}, {"send-hex": hexs(data_line(fragment(2002, 1, 3, pd)))}],
             during="open", extra_tags=["fragment"])
    gives_up("fragment-no-start", "Server fragments without a Start flag make the client close the pool", SF,
             "The Start fragment MUST have a FragmentId of 0 [and the S flag]", ["psrp.fragment.start-id-0", "psrp.fragment.client-order-violation"],
             [{"comment": "ObjectId 2003 FragmentId 0 (no flags), FragmentId 1 E"}, {"send-hex": hexs(data_line(fragment(2003, 0, 0, a)) + data_line(fragment(2003, 1, 2, b)))}], errata=["PSRP-7"], during="open", extra_tags=["fragment"])
    gives_up("object-id-zero", "A server message under ObjectId 0 makes the client close the pool", SF + "; ERRATA PSRP-7",
             "ObjectId: The value of this field MUST be greater than 0", ["psrp.fragment.object-id-nonzero"],
             [{"send": {"pipeline-output": {"pid": PID, "rpid": RP, "value": {"S": "zero"}, "objectId": 0}}}], errata=["PSRP-7"], extra_tags=["fragment"])
    gives_up("header-little-endian", "A server fragment header written little-endian makes the client give up", SF + "; ERRATA PSRP-2",
             "ObjectId / FragmentId / BlobLength: The value is in the network-byte order", ["psrp.fragment.big-endian"],
             [{"comment": "APPLICATION_PRIVATE_DATA, fragment header little-endian"}, {"send-hex": hexs(data_line(fragment(2004, 0, 3, pd, le=True)))}],
             errata=["PSRP-2"], during="open", extra_tags=["fragment"])
    gives_up("blob-length-huge", "A server fragment with BlobLength 0x7FFFFFFF makes the client give up at once", SF + "; ERRATA PSRP-6",
             "BlobLength MUST be less than or equal to 32768; receivers enforce per-object limits (200 MB on the client)", ["psrp.fragment.blob-length-max", "psrp.fragment.no-wait-over-limit"],
             [{"comment": "ObjectId 2005 S|E, BlobLength 0x7FFFFFFF, 16 bytes follow"}, {"send-hex": hexs(data_line(fragment(2005, 0, 3, pd[:16], blen=0x7FFFFFFF)))}],
             errata=["PSRP-6"], during="open", extra_tags=["fragment", "limits"])
    gives_up("destination-server", "A server message addressed to the server (Destination 2) is refused by the client",
             "MS-PSRP §2.2.1 Destination; ERRATA PSRP-7", "Destination 0x00000002: the message is targeted to a server", ["psrp.header.destination-checked"],
             [{"send": {"pipeline-output": {"pid": PID, "rpid": RP, "value": {"S": "misaddressed"}, "destination": "server"}}}], errata=["PSRP-7"])
    gives_up("bad-data-line", "A server <Data> line that is not base64 makes the client give up",
             "PowerShell OutOfProc transport", "A line that is not one well-formed packet element is a transport error", ["psrp.oop.malformed-line"],
             [{"send-hex": hexs(f"<Data Stream='Default' PSGuid='{NIL}'>!!!</Data>\n".encode())}], during="open", extra_tags=["outofproc"])
    gives_up("garbage-line", "A server line that is not XML makes the client give up",
             "PowerShell OutOfProc transport", "A line that is not one well-formed packet element is a transport error", ["psrp.oop.malformed-line"],
             [{"send-hex": hexs(b"this is not a packet\n")}], during="open", extra_tags=["outofproc"])
    gives_up("malformed-clixml", "A server message whose CLIXML is not well-formed makes the client give up",
             "MS-PSRP §3.1.7 Other Local Events", "If there are any errors while processing a RunspacePool message, then that RunspacePool MUST be Closed", ["psrp.clixml.malformed-refused"],
             [{"send": {"application-private-data": {"rpid": RP, "clixml": "<Obj RefId=\"0\"><MS>"}}}], during="open", extra_tags=["clixml"])
    gives_up("deep-clixml", "A server PIPELINE_OUTPUT nested 2000 deep is refused or taken cleanly; the client never hangs",
             "MS-PSRP §2.2.5 (receiver limits)", "Nesting deeper than the receiver's limit is refused cleanly", ["psrp.clixml.depth-limit"],
             [{"send": {"pipeline-output": {"pid": PID, "rpid": RP, "clixml": "<Obj RefId=\"0\"><MS>" + "<Obj N=\"n\"><MS>" * 2000 + "</MS></Obj>" * 2000 + "</MS></Obj>"}}}],
             level="should", extra_tags=["clixml", "limits"])
    c("psrp.client.2013-connect-type", "The client never uses the 2013 table's CONNECT_RUNSPACEPOOL value 0x00010030",
      "ERRATA PSRP-1", "CONNECT_RUNSPACEPOOL = 0x00010008; the 2013 value 0x00010030 is wrong", "must",
      ["psrp.header.current-table"], ["open", "errata"],
      [{"expect": {"session-capability": {}}, "within": "3s"},
       {"expect": {"init-runspacepool": {}, "connect-runspacepool": {}}, "within": "3s",
        "note": "an `unknown` message here is a type outside the current table"}], errata=["PSRP-1"], params=None)


def clixml():
    SC = "MS-PSRP §2.2.5 Serialization"

    def takes(name, title, xml, requirement, covers, spec=SC, errata=None):
        c(f"psrp.client.clixml-{name}", title, spec, requirement, "must", covers, ["clixml"],
          [OPEN, PIPE, {"send": {"pipeline-output": {"pid": PID, "rpid": RP, "clixml": xml}}}, finish(), CLIENT_DONE], errata=errata)

    takes("escapes", "Output with _xHHHH_ escapes (CR, LF, surrogate halves, escaped underscore) is taken",
          "<S>a_x000D__x000A_b _xD83D__xDE00_ _x005F_x0041_</S>", "the receiver decodes _[Xx]([0-9a-fA-F]{4})_ sequences", ["psrp.clixml.string-escape", "psrp.clixml.escape-literal-underscore"],
          spec=SC + ".3.2; ERRATA PSRP-10", errata=["PSRP-10"])
    takes("ref", "Output using Ref and TNRef is taken",
          "<Obj RefId=\"0\"><TN RefId=\"0\"><T>Deserialized.Thing</T><T>Deserialized.System.Object</T></TN><MS><Obj N=\"a\" RefId=\"1\"><TNRef RefId=\"0\" /><MS><S N=\"x\">1</S></MS></Obj><Ref N=\"b\" RefId=\"1\" /></MS></Obj>",
          "the serializer SHOULD choose to output only the Ref element", ["psrp.clixml.refid", "psrp.clixml.tnref"], spec=SC + ".2.1")
    takes("datetime-object", "A deserialized System.DateTime with ToString and Props is taken",
          "<Obj RefId=\"0\"><DT>2001-02-03T04:05:06Z</DT><MS><Obj N=\"DisplayHint\" RefId=\"1\"><TN RefId=\"0\"><T>Microsoft.PowerShell.Commands.DisplayHintType</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>DateTime</ToString><I32>2</I32></Obj></MS></Obj>",
          "Extended primitive objects: a primitive element plus MS properties", ["psrp.clixml.primitives"], spec=SC + ".2.5")
    takes("xml-declaration", "Output with an XML declaration is taken", "<?xml version=\"1.0\" encoding=\"utf-8\"?><S>declared</S>",
          "The resulting XML document MAY have an XML declaration", ["psrp.clixml.xml-declaration"])
    takes("containers", "Output with STK, QUE, LST and DCT containers is taken",
          "<Obj RefId=\"0\"><MS><Obj N=\"s\" RefId=\"1\"><STK><I32>1</I32></STK></Obj><Obj N=\"q\" RefId=\"2\"><QUE><I32>2</I32></QUE></Obj><Obj N=\"l\" RefId=\"3\"><LST><I32>3</I32></LST></Obj><Obj N=\"d\" RefId=\"4\"><DCT><En><S N=\"Key\">k</S><S N=\"Value\">v</S></En></DCT></Obj></MS></Obj>",
          "Contents of Known Containers", ["psrp.clixml.containers"], spec=SC + ".2.6", errata=["PSRP-9"])
    takes("no-bom", "Output Data without a BOM, with the namespace attribute, is taken",
          "<S xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">ns</S>", "Serialization MAY indicate the XML namespace using the xmlns attribute",
          ["psrp.clixml.namespace", "psrp.header.bom-optional"], errata=["PSRP-4"])


def run():
    preludes()
    opening()
    pipeline()
    host()
    wire()
    clixml()
