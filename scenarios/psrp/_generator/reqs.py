"""requirements/psrp.yaml: testable MUST/SHOULD/MAY statements of MS-PSRP."""
import yaml

WSMAN = "WSMan-only (wxf:* messages, MS-WSMV): the suite speaks PSRP over OutOfProc lines or raw fragments, where this exchange does not exist."
INTERNAL = "An internal data structure of the peer; only its effects on the wire are observable, and those are covered by the requirements that name them."

R = []


def req(id, section, level, quote, errata=None, untestable=None):
    e = {"id": id, "section": section, "level": level, "quote": quote}
    if errata:
        e["errata"] = errata
    if untestable:
        e["untestable"] = untestable
    R.append(e)


# ---- 2.2.1 message header -------------------------------------------------------------------
S221 = "2.2.1 PowerShell Remoting Protocol Message (current)"
req("psrp.header.destination-values", S221, "must", "Destination: 0x00000001 The message is targeted to a client. 0x00000002 The message is targeted to a server.", errata=["PSRP-7"])
req("psrp.header.destination-checked", S221, "must", "[reading] A message whose Destination does not address the receiving side is not processed (PowerShell tests the receiving role's bit, ERRATA PSRP-7).", errata=["PSRP-7"])
req("psrp.header.messagetype-action", S221, "must", "MessageType: The value of this field specifies what action MUST be taken by the client or server upon receipt.")
req("psrp.header.current-table", S221, "must", "CONNECT_RUNSPACEPOOL 0x00010008, RUNSPACEPOOL_INIT_DATA 0x0002100B, RESET_RUNSPACE_STATE 0x0002100C (the 2013 table's 0x00010030 / 0x00010031 are wrong).", errata=["PSRP-1"])
req("psrp.header.little-endian", S221, "must", "[ERRATA PSRP-2] The message header (Destination, MessageType) is little-endian.", errata=["PSRP-2"])
req("psrp.header.guid-order", S221, "must", "[ERRATA PSRP-3] RPID/PID GUIDs are in .NET byte order; OutOfProc PSGuid text must match the pipeline id.", errata=["PSRP-3"])
req("psrp.header.rpid", S221, "must", "RPID (16 bytes): A globally unique identifier (GUID) specifying the instance ID of the RunspacePool on the client.")
req("psrp.header.pid", S221, "must", "PID (16 bytes): A GUID specifying the instance ID of the pipeline on the client.")
req("psrp.header.direction", S221, "must", "Each message type has one Direction (client to server, server to client, or bidirectional for SESSION_CAPABILITY); a peer sends only the types its role may send.")
req("psrp.header.bom-optional", "ERRATA PSRP-4", "must", "[ERRATA] PowerShell starts message Data with a UTF-8 BOM (EF BB BF); receivers accept data with or without it.", errata=["PSRP-4"])
req("psrp.header.data-no-objs-root", "ERRATA PSRP-4", "must", "[ERRATA] Data is CLIXML with no <Objs> root and no namespace.", errata=["PSRP-4"])
req("psrp.header.unknown-type", S221, "should", "[reading] A message type that is not in the table is not acted on as any known message (it is ignored, or the RunspacePool is closed).", errata=["PSRP-1"])
req("psrp.header.rpid-zero-capability", "ERRATA PSRP-8", "must", "[ERRATA] The server's SESSION_CAPABILITY carries an all-zero RPID when a pool is opened; that is normal.", errata=["PSRP-8"])

# ---- 2.2.4 fragments ------------------------------------------------------------------------
S224 = "2.2.4 Packet Fragment"
req("psrp.fragment.big-endian", S224, "must", "ObjectId / FragmentId / BlobLength: The value is in the network-byte order.", errata=["PSRP-2"])
req("psrp.fragment.object-id-nonzero", S224, "must", "ObjectId: The value of this field MUST be greater than 0 and unique within a given RunspacePool and its associated pipelines.", errata=["PSRP-7"])
req("psrp.fragment.object-id-unique", S224, "must", "ObjectId: [...] unique within a given RunspacePool and its associated pipelines.", errata=["PSRP-7"])
req("psrp.fragment.id-starts-0", S224, "must", "FragmentId: The value of this field MUST start with 0.")
req("psrp.fragment.start-id-0", S224, "must", "The Start fragment MUST have a FragmentId of 0.")
req("psrp.fragment.single-start-end", S224, "must", "If a deserialized object fits into 1 packet, then both the E field and the S field MUST be 1.")
req("psrp.fragment.end-flag", S224, "must", "E (1 bit): Specifies if the packet represents the End fragment [...] the receiver completes the message only at the End fragment.")
req("psrp.fragment.reserved-zero", S224, "must", "Reserved (6 bits): Reserved for future use. MUST be set to 0 and ignored upon receipt.")
req("psrp.fragment.blob-length-max", S224, "must", "BlobLength: This field MUST be set to a value greater than or equal to 0 and less than or equal to 32768.", errata=["PSRP-6"])
req("psrp.fragment.blob-length-exact", S224, "must", "BlobLength (4 bytes): The length, in bytes, of the Blob field.")
req("psrp.fragment.size-includes-header", "ERRATA PSRP-6", "should", "[ERRATA] PowerShell's fragment size of 32768 includes the 21-byte fragment header, so its largest blob is 32747; receivers enforce per-object limits.", errata=["PSRP-6"])
req("psrp.fragment.consecutive", "3.1.5.1.1 / 3.2.5.1.1 Rules for Sending Data", "must", "The FragmentIDs MUST be numbered consecutively beginning with 0.")
req("psrp.fragment.reassemble-any-split", "3.2.5.1.2 Rules for Receiving Data", "must", "The receiver extracts the Blob field of each fragment and appends it to the PartiallyDefragmentedPsrpMessage; after an EndFragment a whole PSRP message is stored (however the message was split).")
req("psrp.fragment.server-order-violation", "3.2.5.1.2 Rules for Receiving Data", "must", "If at any point it is determined that the fragments are not received in ascending order of FragmentID with the same ObjectID, the PowerShell MUST close the appropriate RunspacePool or stop the appropriate pipeline.", errata=["PSRP-7"])
req("psrp.fragment.client-order-violation", "3.1.5.1.2 Rules for Receiving Data", "must", "If at any point, it is determined that the fragments are not received in ascending order of FragmentID with the same ObjectID, the PowerShell client MUST close the appropriate RunspacePool or stop the appropriate pipeline.", errata=["PSRP-7"])
req("psrp.fragment.start-restarts", "ERRATA PSRP-7", "may", "[ERRATA] PowerShell's receiver: one object in flight per stream; a Start fragment restarts the object.", errata=["PSRP-7"])
req("psrp.fragment.no-wait-over-limit", "ERRATA PSRP-6; 2.2.4", "must", "[reading] A BlobLength over the receiver's named maximum is refused from the 21 header bytes, without waiting for (or allocating) the bytes it promises.", errata=["PSRP-6"])

# ---- 2.2.2.x messages -----------------------------------------------------------------------
req("psrp.msg.session-capability.fields", "2.2.2.1 SESSION_CAPABILITY", "must", "SESSION_CAPABILITY carries protocolversion, PSVersion and SerializationVersion (Version); TimeZone is optional and MAY be omitted.")
req("psrp.msg.init-runspacepool.fields", "2.2.2.2 INIT_RUNSPACEPOOL", "must", "INIT_RUNSPACEPOOL carries MinRunspaces, MaxRunspaces, PSThreadOptions, ApartmentState, HostInfo, ApplicationArguments.")
req("psrp.msg.public-key.format", "2.2.2.3 PUBLIC_KEY", "must", "PUBLIC_KEY: base64 of the client's public key blob (PUBLICKEYBLOB: bType 0x06, RSA1, 2048-bit modulus); The modulus MUST be encoded in little-endian format.")
req("psrp.msg.encrypted-session-key.format", "2.2.2.4 ENCRYPTED_SESSION_KEY", "must", "ENCRYPTED_SESSION_KEY: base64 of the session key encrypted with the client's public key.")
req("psrp.msg.runspace-availability.fields", "2.2.2.8 RUNSPACE_AVAILABILITY", "must", "SetMinMaxRunspacesResponse: Boolean for SET_MAX/SET_MIN_RUNSPACES, or a signed long (available runspaces) for GET_AVAILABLE_RUNSPACES; ci: the call id.")
req("psrp.msg.runspacepool-state.fields", "2.2.2.9 RUNSPACEPOOL_STATE", "must", "RunspaceState: Signed int (RunspacePoolState 2.2.3.4); ExceptionAsErrorRecord optional.")
req("psrp.msg.create-pipeline.fields", "2.2.2.10 CREATE_PIPELINE", "must", "CREATE_PIPELINE carries NoInput, ApartmentState, RemoteStreamOptions, AddToHistory, HostInfo, PowerShell (Cmds), IsNested.")
req("psrp.msg.user-event.accepted", "2.2.2.12 USER_EVENT; 3.1.5.4.12", "must", "The PowerShell client's RunspacePool MUST be in an Opened state while processing this message [a client takes a USER_EVENT in Opened].")
req("psrp.msg.get-command-metadata.null-name", "2.2.2.14 GET_COMMAND_METADATA", "must", "If the value of this property is equal to Null, then it MUST be treated as if a List with a single \"*\" String was specified.")
req("psrp.msg.host-call.fields", "2.2.2.15 / 2.2.2.26 host calls", "must", "A host call carries ci (call id), mi (HostMethodIdentifier) and mp (parameters).")
req("psrp.msg.pipeline-state.fields", "2.2.2.21 PIPELINE_STATE", "must", "PipelineState: Signed int (PSInvocationState 2.2.3.5); ExceptionAsErrorRecord when Failed/Stopped.")
req("psrp.msg.records.accepted", "2.2.2.20, 2.2.2.22–2.2.2.25, INFORMATION_RECORD", "must", "ERROR_RECORD, DEBUG_RECORD, VERBOSE_RECORD, WARNING_RECORD, PROGRESS_RECORD and INFORMATION_RECORD are result messages the client takes while the pipeline runs.")
req("psrp.msg.type-names-complex", "2.2.2.x (each message)", "should", "The Complex Object described in this section SHOULD have no associated type names (section 2.2.5.2.3).",
    untestable="Whether a body carries TN is a SHOULD for the sender; receivers must accept both, and PowerShell itself adds type names to several bodies, so refusing either would not be a true verdict.")
req("psrp.msg.pipeline-state-error-id", "2.2.2.21 PIPELINE_STATE", "should", "The FullyQualifiedErrorId property SHOULD have a value of \"RemotePSInvocationStateInfoReason\".",
    untestable="The simulator and real servers carry the failing command's own error id; the suite does not trigger a server-side failure whose record it could predict.")

# ---- 2.2.5 CLIXML ---------------------------------------------------------------------------
req("psrp.clixml.primitives", "2.2.5.1 Serialization of Primitive Type Objects", "must", "If the object type is listed in section 2.2.5.1, the higher layer MUST encode the object as specified in that section (S, C, B, DT, TS, By, SB, U16, I16, U32, I32, U64, I64, Sg, Db, D, BA, G, URI, Nil, Version, XD, SBK, SS, PR).", errata=["PSRP-9"])
req("psrp.clixml.xml-declaration", "2.2.5 Serialization", "must", "The resulting XML document MAY have an XML declaration [so a receiver accepts one].")
req("psrp.clixml.namespace", "2.2.5 Serialization", "must", "Serialization MAY indicate the XML namespace using the xmlns attribute [so a receiver accepts it].")
req("psrp.clixml.string-escape", "2.2.5.3.2 Encoding Strings", "must", "Strings are encoded with _xHHHH_ escapes for characters XML cannot carry; the receiver decodes _[Xx]([0-9a-fA-F]{4}) _ sequences.", errata=["PSRP-10"])
req("psrp.clixml.escape-literal-underscore", "2.2.5.3.2 Encoding Strings", "must", "An underscore that would start an escape is itself escaped (_x005F_); text that is not a valid escape stays literal.", errata=["PSRP-10"])
req("psrp.clixml.refid", "2.2.5.2.1 Referencing Earlier Objects", "must", "All elements representing Complex Objects SHOULD have an optional RefId attribute [...] the serializer SHOULD choose to output only the Ref element [so a receiver resolves Ref RefId].")
req("psrp.clixml.tnref", "2.2.5.2.3 Type Names", "must", "The TN element always has a RefId attribute which identifies the type information; the element may be referenced later by TNRef elements.")
req("psrp.clixml.containers", "2.2.5.2.6 Contents of Known Containers", "must", "Stacks (STK), queues (QUE), lists (LST/IE) and dictionaries (DCT with En/Key/Value) are serialized as specified.", errata=["PSRP-9"])
req("psrp.clixml.malformed-refused", "3.1.7 / 3.2.5.1 (errors while processing)", "must", "If there are any errors while processing a RunspacePool message, then that RunspacePool MUST be Closed; [...] a pipeline message, then that pipeline MUST be stopped [malformed XML is such an error].")
req("psrp.clixml.depth-limit", "2.2.5 (receiver limits)", "should", "[reading] Nesting deeper than the receiver's limit is refused cleanly (pipeline or pool closed), never by hanging or dropping the connection silently.")
req("psrp.clixml.unknown-element", "2.2.5 Serialization", "should", "[reading] An element that is not one of 2.2.5's is either skipped or refused cleanly; the session keeps a defined state.")
req("psrp.clixml.typenames-preserved", "2.2.5.3.4.5 Type Names", "must", "If a list of type names is associated with an object, the PowerShell Remoting Protocol MUST transparently pass it between the higher layers on the client and server without interpretation.",
    untestable="What the higher layer does with type names is not visible on the wire except through echoing, which the spec does not require of a server.")
req("psrp.clixml.serializer-per-type", "2.2.5.3.3 Lifetime of a Serializer/Deserializer Pair", "must", "A new serializer/deserializer pair MUST be created and reused for each type of message data [...]",
    untestable="RefId scoping across messages is an internal choice; the suite sends self-contained bodies and accepts any RefId numbering.")
req("psrp.clixml.secure-string-key-first", "2.2.5.1.24 Secure String", "must", "The key exchange MUST take place before sending a PowerShell Remoting Protocol message containing a SecureString.", errata=["PSRP-5"])

# ---- 3.1 client -----------------------------------------------------------------------------
req("psrp.client.capability-first", "3.1.5.4.1.1 Sending to the Server", "must", "The SESSION_CAPABILITY message MUST be the first message sent to the server.")
req("psrp.client.capability-once", "3.1.5.4.1.1 Sending to the Server", "must", "This message MUST be sent only once per RunspacePool from a PowerShell client client to a PowerShell server.")
req("psrp.client.capability-versions", "3.1.5.4.1.1 Sending to the Server", "must", "protocolversion MUST be 2.1 or 2.2 [2.3, 2.4 today]; PSVersion MUST be 2.0; SerializationVersion MUST be 1.1.0.1.", errata=["PSRP-5"])
req("psrp.client.capability-timezone", "3.1.5.4.1.1 Sending to the Server", "should", "TimeZone SHOULD be the client's time zone.",
    untestable="The client's time zone is local configuration; PowerShell 7 and psrpcore omit it, which the 2.2.2.1 text allows (MAY be omitted).")
req("psrp.client.init-after-capability", "3.1.5.4.2 INIT_RUNSPACEPOOL", "must", "The RunspacePool MUST be in an Opening or NegotiationSucceeded state when this message is sent [after SESSION_CAPABILITY].")
req("psrp.client.init-once", "3.1.5.4.2 INIT_RUNSPACEPOOL", "must", "This message MUST be sent only once per RunspacePool from a PowerShell client to a PowerShell server.")
req("psrp.client.server-capability-broken", "3.1.5.4.1.2 Receiving from the Server", "must", "In all other cases [versions not as expected], the client MUST change the RunspacePool state to Broken.")
req("psrp.client.server-capability-zero-rpid", "ERRATA PSRP-8", "must", "[ERRATA] The server's SESSION_CAPABILITY carries an all-zero RPID; the client proceeds.", errata=["PSRP-8"])
req("psrp.client.pipeline-after-opened", "3.1.5.2 Sequencing Rules; 3.1.5.4.10", "must", "The PowerShell client MUST construct a RunspacePool and the RunspacePool MUST be in Opened state; CREATE_PIPELINE MAY be sent [only] when the RunspacePool state is Opened.")
req("psrp.client.public-key-on-request", "3.1.5.4.5 PUBLIC_KEY_REQUEST", "must", "After receiving this message, the client MUST send a PUBLIC_KEY message to the server.")
req("psrp.client.public-key-2048", "3.1.1.1.3 Public Key Pair", "must", "The PowerShell client MUST have an RSA public key pair (public key MUST be 2048-bit).")
req("psrp.client.public-key-once", "3.1.5.4.3 PUBLIC_KEY", "must", "This message MUST be sent only once from a PowerShell client to a PowerShell server for one RunspacePool.",
    untestable="Conflicts with 3.1.5.4.5 (after a PUBLIC_KEY_REQUEST the client MUST send a PUBLIC_KEY) when a server asks twice; a single request is checked by psrp.client.public-key-on-request, and the client's own initiative cannot be caused from the wire.")
req("psrp.client.no-exchange-2.4", "ERRATA PSRP-5", "must", "[ERRATA] With 2.4 on both sides the session-key exchange is dropped and SecureString carries base64 of the UTF-16LE text.", errata=["PSRP-5"])
req("psrp.client.session-key-timer", "3.1.6 Timer Events", "must", "The Session Key Transfer timer MUST expire after SessionKeyTransferTimeoutms (60000); upon expiration [...] MUST close the associated RunspacePool.",
    untestable="A 60-second timer cannot be observed within the catalogue's per-scenario budget (about 5 s).")
req("psrp.client.unsolicited-session-key", "3.1.5.4.4 ENCRYPTED_SESSION_KEY", "should", "[reading] An ENCRYPTED_SESSION_KEY the client never asked for (no PUBLIC_KEY sent) cannot be decrypted: it is an error while processing a RunspacePool message (3.1.7).")
req("psrp.client.host-response-ci", "3.1.5.4.16 / 3.1.5.4.27", "must", "While constructing this message, the PowerShell client MUST extract the \"ci\" (call id) value from the [...] host call and use the same value in the \"ci\" portion of the message.")
req("psrp.client.host-response-sent", "2.2.3.17 Host Method Identifier", "must", "If the Return Value column indicates that the method returns a return value, then the PowerShell client MUST send a RUNSPACEPOOL_HOST_RESPONSE message or a PIPELINE_HOST_RESPONSE message.")
req("psrp.client.host-void-no-response", "2.2.3.17 Host Method Identifier", "must", "If the Return Value column indicates that the method does not return a value, then the PowerShell client MUST NOT send a RUNSPACEPOOL_HOST_RESPONSE message or a PIPELINE_HOST_RESPONSE message.")
req("psrp.client.pool-host-call-opened", "3.1.5.4.15 RUNSPACEPOOL_HOST_CALL", "must", "A PowerShell client's RunspacePool MUST be in an Opened or NegotiationSucceeded state while processing this message.")
req("psrp.client.end-of-input", "3.1.4.3 Executing a Pipeline", "must", "When the higher layer signals that all input data has been provided, the PowerShell client MUST send an END_OF_PIPELINE_INPUT message.",
    untestable="The built-in client's default script sends no input; whether a client has input is the caller's choice, not visible before it sends.")
req("psrp.client.unexpected-message-stops", "3.1.4.3 Executing a Pipeline", "must", "If the client receives any other message [than the result messages], then the client MUST stop the pipeline.")
req("psrp.client.wrong-state-closes", "3.1.5.1 General Rules (3, 4)", "must", "When a PowerShell client receives a message for a RunspacePool that is not in the correct state, the client MUST stop any executing pipelines and close that RunspacePool.")
req("psrp.client.pipeline-state-failed", "3.1.1.3.2 Pipeline State", "must", "If a PowerShell server sends a State Information message with a Failed state, then the PowerShell client MUST process this message and change the pipeline state to Failed accordingly.")
req("psrp.client.no-messages-after-end", "3.1.1.3.2 Pipeline State", "must", "When the pipeline state is changed to Completed or Stopped or Failed, the PowerShell client MUST not send any more messages to the PowerShell server targeted to that particular pipeline.")
req("psrp.client.pipeline-state-pool-ignored", "3.1.5.4.21 PIPELINE_STATE", "should", "The PowerShell client SHOULD ignore PIPELINE_STATE messages targeted to RunspacePools.")
req("psrp.client.pool-state-broken", "3.1.5.4.9 RUNSPACEPOOL_STATE", "must", "[reading with 3.1.5.1] A RUNSPACEPOOL_STATE Broken or Closed ends the pool: the client stops its pipelines and closes.")
req("psrp.client.connect-once", "3.1.5.4.28 CONNECT_RUNSPACEPOOL", "must", "This message MUST be sent only once per RunspacePool from a PowerShell client to a PowerShell server.",
    untestable="The built-in client opens with INIT_RUNSPACEPOOL by default, and real clients send CONNECT_RUNSPACEPOOL only to reconnect a disconnected WSMan pool.")
req("psrp.client.ci-unique", "3.1.5.4.6 / 3.1.5.4.7 / 3.1.5.4.11", "must", "Before sending this message, the PowerShell client MUST construct a unique integer identifier to represent the message and store it in the RunspacePool's CI table.",
    untestable="The built-in and real clients send SET_MAX/SET_MIN/GET_AVAILABLE only when their caller asks; the suite cannot make a client send them.")
req("psrp.client.wsman", "3.1.5.3 Rules for Processing WS-MAN Messages", "must", "The client's wxf:Create / Command / Send / Receive / Signal / Delete / Connect / Disconnect / Reconnect rules.", untestable=WSMAN)
req("psrp.client.tables", "3.1.1 / 3.1.3 Abstract Data Model and Initialization", "must", "Tables, CI tables and states MUST be initialized as described (empty tables; RunspacePool Opening; pipeline Running).", untestable=INTERNAL)

# ---- 3.2 server -----------------------------------------------------------------------------
req("psrp.server.capability-state", "3.2.5.4.1.1 Receiving from the Client", "must", "When this message is processed, the RunspacePool MUST be in the BeforeOpen state [a second SESSION_CAPABILITY is out of state].")
req("psrp.server.capability-broken", "3.2.5.4.1.1 Receiving from the Client", "must", "If expected versions are received from the client, the PowerShell server changes the RunspacePool state to NegotiationSucceeded. Otherwise the server MUST change the RunspacePool state to Broken.")
req("psrp.server.capability-answer", "3.2.5.4.1.2 Sending to the Client", "must", "If expected versions have been received from the client, then the PowerShell server MUST send a SESSION_CAPABILITY message in response to a PowerShell client SESSION_CAPABILITY message.")
req("psrp.server.capability-versions", "3.2.5.4.1.2 Sending to the Client", "must", "PSVersion MUST be 2.0. SerializationVersion MUST be 1.1.0.1.", errata=["PSRP-5"])
req("psrp.server.capability-protocolversion", "3.2.5.4.1.2 Sending to the Client", "should", "protocolversion MUST be 2.0 when client sent protocolversion=2.0; otherwise, MUST be 2.1 or 2.2 [2.3 / 2.4 by today's servers].", errata=["PSRP-5"])
req("psrp.server.capability-timezone", "3.2.5.4.1.2 Sending to the Client", "must", "The TimeZone property MUST be omitted.")
req("psrp.server.capability-first", "3.1.5.4.1.1; 3.2.5.1 (3)", "must", "The SESSION_CAPABILITY message MUST be the first message sent to the server [a server closes the pool on any other first message].")
req("psrp.server.init-state", "3.2.5.4.2 INIT_RUNSPACEPOOL", "must", "When this message is processed, the RunspacePool's state MUST be in the NegotiationSucceeded state.")
req("psrp.server.private-data", "3.2.5.4.13 APPLICATION_PRIVATE_DATA", "must", "This message MUST be sent to a PowerShell client when the RunspacePool state is NegotiationSucceeded and the PowerShell server receives an INIT_RUNSPACEPOOL message.")
req("psrp.server.state-opened", "3.2.5.4.9 RUNSPACEPOOL_STATE", "must", "This message MUST be sent when the RunspacePool's state changes to Opened or Broken.")
req("psrp.server.state-closed", "3.2.5.4.9 RUNSPACEPOOL_STATE", "may", "This message MAY be sent when the RunspacePool's state changes to Closed.")
req("psrp.server.wrong-state-closes", "3.2.5.1 General Rules (3)", "must", "When a PowerShell server receives a message for a RunspacePool that is not in the correct state, the server MUST [...] close the RunspacePool [...] and discard any incoming messages for that specific RunspacePool.")
req("psrp.server.close-sends-state", "3.2.5.2 Sequencing Rules (7)", "must", "A PowerShell server may choose to close a RunspacePool [...]. After changing the state, the PowerShell server MUST send a RUNSPACEPOOL_STATE message with appropriate state information.")
req("psrp.server.pipeline-requires-opened", "3.2.5.4.10 CREATE_PIPELINE", "must", "The RunspacePool MUST be in the Opened state while processing this message.")
req("psrp.server.pipeline-state-sent", "3.2.5.4.21 PIPELINE_STATE", "must", "The PowerShell server MUST send this message whenever pipeline state reaches Completed or Failed or Stopped.")
req("psrp.server.pipeline-state-change", "3.2.5.2 Sequencing Rules (6)", "must", "After changing the state, the PowerShell server MUST send a PIPELINE_STATE message with the appropriate state information to the PowerShell client.")
req("psrp.server.no-messages-after-end", "3.2.1.3.2 Pipeline State", "must", "When the pipeline state is changed to Completed, Stopped, or Failed, the PowerShell server MUST not send any PowerShell Remoting Protocol layer messages to the PowerShell client targeted to that particular pipeline.")
req("psrp.server.pipeline-pid", "2.2.1; 3.2.5.4.19", "must", "[reading] Pipeline messages carry the PID of the pipeline they report on (PID: the instance ID of the pipeline on the client).")
req("psrp.server.pipeline-input", "3.2.5.4.17 PIPELINE_INPUT", "must", "The PowerShell server MUST process the message and send the contents as input to the pipeline executing in the higher layer on the server.")
req("psrp.server.end-of-input", "3.2.5.4.18 END_OF_PIPELINE_INPUT", "must", "This message is targeted to a pipeline. While processing this message, the pipeline MUST be in a Running state [it closes the pipeline's input].")
req("psrp.server.set-max-ci", "3.2.5.4.6 SET_MAX_RUNSPACES", "must", "The PowerShell server MUST extract the \"ci\" (call id) value from the message and use it for sending a response using RUNSPACE_AVAILABILITY message.")
req("psrp.server.set-max-state", "3.2.5.4.6 SET_MAX_RUNSPACES", "must", "The RunspacePool MUST be in an Opened state while processing this message.")
req("psrp.server.set-max-no-stop", "3.2.5.4.6 SET_MAX_RUNSPACES", "must", "The PowerShell server MUST NOT stop any executing pipelines because of this message.")
req("psrp.server.set-min-ci", "3.2.5.4.7 SET_MIN_RUNSPACES", "must", "The PowerShell server MUST extract the \"ci\" (call id) value from the message and use it for sending a response using RUNSPACE_AVAILABILITY message.")
req("psrp.server.set-min-state", "3.2.5.4.7 SET_MIN_RUNSPACES", "must", "The RunspacePool MUST be in the Opened state while processing this message.")
req("psrp.server.minmax-limits", "3.2.1.2.9 Minimum and Maximum Number of Runspaces", "should", "The number of runspaces in the RunspacePool MUST be within the limits expressed by the minimum and maximum numbers [a request that breaks min ≤ max is refused with false].")
req("psrp.server.get-available-ci", "3.2.5.4.11 GET_AVAILABLE_RUNSPACES", "must", "The PowerShell server MUST extract the \"ci\" (call id) value from the message and use it for sending a response using the RUNSPACE_AVAILABILITY message.")
req("psrp.server.get-available-state", "3.2.5.4.11 GET_AVAILABLE_RUNSPACES", "must", "The RunspacePool MUST be in an Opened state while processing this message.")
req("psrp.server.availability-ci", "3.2.5.4.8 RUNSPACE_AVAILABILITY", "must", "While constructing this message, the PowerShell server MUST extract the \"ci\" (call id) value from the corresponding SET_MAX_RUNSPACES, SET_MIN_RUNSPACES or GET_AVAILABLE_RUNSPACES message and use the same value in the \"ci\" portion of the message.")
req("psrp.server.reset-runspace-state", "2.2.1 (current table) RESET_RUNSPACE_STATE", "must", "RESET_RUNSPACE_STATE 0x0002100C: Reset RunspacePool Runspace state; Direction: client to server [answered with RUNSPACE_AVAILABILITY carrying its ci].", errata=["PSRP-1"])
req("psrp.server.connect-init-data", "3.2.5.4.29 RUNSPACEPOOL_INIT_DATA", "must", "The PowerShell server MUST send this message as a response to a CONNECT_RUNSPACEPOOL message targeted to a RunspacePool.", errata=["PSRP-1"])
req("psrp.server.get-command-metadata-count", "3.2.5.4.14 GET_COMMAND_METADATA", "must", "The server MUST first construct a CommandMetadataCount object [...] and send it to the client using the PIPELINE_OUTPUT message. For each and every command metadata [...] MUST construct a CommandMetadata object and send it using PIPELINE_OUTPUT.")
req("psrp.server.get-command-metadata-state", "3.2.5.4.14 GET_COMMAND_METADATA", "must", "Once all the CommandMetadata objects are sent, the server MUST send a PIPELINE_STATE message with Completed state to the client.")
req("psrp.server.get-command-metadata-messages", "3.2.5.4.14 GET_COMMAND_METADATA", "must", "While sending responses to the client, the server MUST use the same PowerShell messages that are used for the pipeline.")
req("psrp.server.encrypted-key-answer", "3.2.5.4.4 ENCRYPTED_SESSION_KEY", "must", "The PowerShell server MUST send this message to the client as a response to the PUBLIC_KEY message.")
req("psrp.server.encrypted-key-rpid-zero", "3.2.5.4.4 ENCRYPTED_SESSION_KEY", "must", "The RPID field of this message MUST be zeroed out.")
req("psrp.server.public-key-request-rpid-zero", "3.2.5.4.5 PUBLIC_KEY_REQUEST", "must", "The RPID field of this message MUST be zeroed out.",
    untestable="The server sends PUBLIC_KEY_REQUEST only when its higher layer has a SecureString to send; neither the built-in server's default script nor the spec lets the suite cause that.")
req("psrp.server.public-key-request-when-secure", "3.2.5.4.5 PUBLIC_KEY_REQUEST", "must", "The PowerShell server MUST send this message [...] if the PowerShell server is trying to send secured data, and if the Session Key is not available yet.",
    untestable="Needs a server-side SecureString chosen by the server's higher layer; no client message requests one.")
req("psrp.server.public-key-state", "3.2.5.4.3 PUBLIC_KEY", "must", "The RunspacePool MUST be in an Opened state while processing this message.")
req("psrp.server.bad-public-key", "3.2.7 / 3.2.5.1", "should", "[reading] A PUBLIC_KEY that is not a 2048-bit RSA public key blob is an error while processing a RunspacePool message; the pool is closed.")
req("psrp.server.host-response-ci", "3.2.5.4.27 PIPELINE_HOST_RESPONSE", "must", "The PowerShell server MUST extract the \"ci\" (call id) from the message and remove the corresponding integer identifier from the Host calls CI table.")
req("psrp.server.user-event", "3.2.7 Other Local Events", "must", "When the PowerShell server receives a higher-layer event notification from the higher-layer, it MUST send an USER_EVENT message to the PowerShell client.",
    untestable="Higher-layer events on the server cannot be caused from the wire.")
req("psrp.server.fifo", "3.2.1.2.4 / 3.2.1.3.4 Queue of Outgoing Messages", "must", "The PowerShell server MUST maintain a first in, first out (FIFO) queue of messages ready to be sent.")
req("psrp.server.pending-queue", "3.2.1.2.11 Pending pipelines queue", "must", "The PowerShell server MUST maintain a queue with pending requests to run a pipeline [...] when a runspace becomes available, the RunspacePool MUST pick the first pipeline from the pending pipelines queue.",
    untestable="Pipeline scheduling depends on how long the server's higher layer runs each pipeline; the outcome order is not fixed by the wire.")
req("psrp.server.hostinfo", "3.2.1.2.5 / 3.2.1.3.5 HostInfo", "must", "The PowerShell server MUST store the HostInfo received in the INIT_RUNSPACEPOOL / CREATE_PIPELINE message and make it available to commands.", untestable=INTERNAL)
req("psrp.server.no-second-exchange", "3.2.4 Higher-Layer Triggered Events", "must", "The PowerShell server MUST NOT start a session key exchange if another session key exchange is already in progress or has already been completed.",
    untestable="Server-initiated exchanges need a server-side SecureString (see psrp.server.public-key-request-when-secure).")
req("psrp.server.wsman", "3.2.5.3 Rules for Processing WS-Man Messages", "must", "The server's wxf:* message rules, wxf:Fault on wrong-state messages, and keep-alive rules.", untestable=WSMAN)
req("psrp.server.tables", "3.2.1 / 3.2.3 Abstract Data Model and Initialization", "must", "Tables, queues, keys and states MUST be initialized as described (BeforeOpen, NotStarted, empty tables).", untestable=INTERNAL)

# ---- OutOfProc (PowerShell's own transport; DESIGN.md) ---------------------------------------
OOP = "PowerShell OutOfProc transport (DESIGN.md; pwsh -s / SSH)"
req("psrp.oop.data-ack", OOP, "must", "[PowerShell] The server answers every <Data> line with <DataAck PSGuid=…/> for the same PSGuid after processing it (PowerShell clients wait for it).")
req("psrp.oop.command-ack", OOP, "must", "[PowerShell] <Command PSGuid=pid/> announces a pipeline; the server answers <CommandAck PSGuid=pid/> before the pipeline's data.")
req("psrp.oop.signal-ack", OOP, "must", "[PowerShell] <Signal PSGuid=pid/> stops the pipeline; the server answers <SignalAck PSGuid=pid/>.")
req("psrp.oop.close-ack", OOP, "must", "[PowerShell] <Close PSGuid=…/> closes the pipeline (or the pool for the all-zero PSGuid); the server answers <CloseAck PSGuid=…/>.")
req("psrp.oop.psguid-matches-pid", "ERRATA PSRP-3", "must", "[ERRATA] OutOfProc PSGuid text must match the pipeline id of the messages carried.", errata=["PSRP-3"])
req("psrp.oop.malformed-line", OOP, "must", "[PowerShell] A line that is not one well-formed packet element (bad XML, bad base64, unknown element) is a transport error: the session ends.")
req("psrp.oop.client-command-first", OOP, "must", "[PowerShell] A client sends <Command PSGuid=pid/> and waits for <CommandAck/> before the pipeline's CREATE_PIPELINE data.")
req("psrp.oop.client-close", OOP, "should", "[PowerShell] When done, the client closes with <Close PSGuid=…/> and waits for <CloseAck/>.")
req("psrp.oop.guid-case", OOP, "should", "[PowerShell] PSGuid is parsed as a GUID (Guid.Parse: either letter case).")

# ---- stop ------------------------------------------------------------------------------------
req("psrp.stop.state-stopped", "3.1.4.4 Stopping a Pipeline; 3.2.5.2 (6)", "must", "When a pipeline is stopped, the server changes its state to Stopped and MUST send a PIPELINE_STATE message with the appropriate state information.")


def write(path, covered):
    doc = {
        "spec": "MS-PSRP",
        "source": "../shared/specs/ms-psrp-v13.0-2013.txt",
        "requirements": R,
    }
    head = ("# Requirements of MS-PSRP (PowerShell Remoting Protocol): the 2013 full text (v13.0) and the\n"
            "# current §2.2.1 message table, read with ERRATA.md (MS-PSRP entries PSRP-1..10).\n"
            "# Quotes are the spec's words; \"[reading]\" marks a paraphrase where the text states a rule as a\n"
            "# table or implies it; \"[PowerShell]\" marks the OutOfProc transport PowerShell ships (pwsh -s,\n"
            "# SSH), which MS-PSRP does not describe; \"[ERRATA]\" quotes ERRATA.md. WSMan-only rules are\n"
            "# listed as untestable: the suite speaks OutOfProc lines or raw fragments.\n")
    with open(path, "w") as f:
        f.write(head)
        yaml.safe_dump(doc, f, sort_keys=False, width=110, allow_unicode=True)
    ids = {r["id"] for r in R}
    for c in covered:
        assert c in ids, f"unknown requirement {c}"
    return [r["id"] for r in R if r["level"] == "must" and "untestable" not in r and r["id"] not in covered]
