// VMM entry point: called once by src/main.ts after boot has detected the CPU.
// Placeholder until the VMM core lands (issue 6): it starts no guests.
export function vmmStart(): void {}
