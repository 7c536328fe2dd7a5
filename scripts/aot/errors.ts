// The compiler's one error type: invalid or unsupported input, reported with what and where.
export class CompileError extends Error {}
