// The management server's public API for the monitor (see README.md):
// MgmtServer (bytes in, responses out), SwitchMethods (the switch's methods),
// VmBackend (what the VMM implements), HostInfo (system.info and the clock).

export { MgmtServer, MethodSet, MAX_SESSIONS } from "./server";
export { SwitchMethods } from "./switch-methods";
export { VmBackend, VmInfo, VmOp, VmResult, NoVms, HostInfo } from "./vm";
export { AuditLog, AUDIT_MAX_RECORDS, AUDIT_MAX_BYTES } from "./audit";
export { LINE_MAX } from "./framer";
export { Call, E_PARSE, E_INVALID_REQUEST, E_METHOD, E_PARAMS, E_NOT_FOUND, E_CONFLICT, E_BUSY, E_LIMIT } from "./call";
