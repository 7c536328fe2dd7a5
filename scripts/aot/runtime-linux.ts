// The freestanding linux runtime appended to every `linux` program: _start with raw
// syscalls, linear-memory reservation, buffered stdout for hw.outb(0xE9), hw.arg, traps
// (message on stderr, exit 100+code) and a SIGSEGV/SIGBUS handler on an alternate stack.
import { GUARD_BYTES, WASM_BASE, asciz, hex } from "./x86.ts";

export const TRAP_MESSAGES = [
  "unknown trap",
  "unreachable",
  "integer divide by zero",
  "integer overflow",
  "invalid conversion to integer",
  "out of bounds memory access",
  "undefined element",
  "indirect call type mismatch",
  "call stack exhausted",
  "out of bounds table access",
];

// Linux x86-64 syscall numbers
const SYS = { write: 1, mmap: 9, mprotect: 10, rt_sigaction: 13, rt_sigreturn: 15, getrlimit: 97, sigaltstack: 131, exit_group: 231 };

export interface RuntimeOptions {
  hasMemory: boolean;
  initialPages: number;
  mainSym: string | null;
  /** bytes above WASM_BASE holding linear memories and their guards (a linked group has one
   *  reservation per member, LINK_STRIDE apart); GUARD_BYTES when absent */
  memSpan?: bigint;
}

/** Distance between the linear memory reservations of a linked group's members (>= GUARD_BYTES). */
export const LINK_STRIDE = 0x4_0000_0000n;

export function linuxRuntime(o: RuntimeOptions): string {
  const msgs = TRAP_MESSAGES.map((m, i) => `tv_tm_${i}: ${asciz(m + "\n")}`).join("\n");
  const msgTab = TRAP_MESSAGES.map((m, i) => `\t.quad tv_tm_${i}, ${m.length + 1}`).join("\n");
  return `
.text
.globl _start
_start:
	xor ebp, ebp
	# AVX2 usable (memory.copy's 32-byte blocks, module.ts): CPUID.1:ECX OSXSAVE (bit 27) and AVX
	# (bit 28), XCR0 bits 1-2 (SSE and AVX state enabled by the OS), CPUID.(7,0):EBX AVX2 (bit 5)
	# (Intel SDM vol 1 14.3 "Detection of Intel AVX instructions", vol 2A CPUID)
	xor eax, eax
	cpuid
	cmp eax, 7
	jb 70f
	mov eax, 1
	cpuid
	and ecx, 0x18000000
	cmp ecx, 0x18000000
	jne 70f
	xor ecx, ecx
	xgetbv
	and eax, 6
	cmp eax, 6
	jne 70f
	mov eax, 7
	xor ecx, ecx
	cpuid
	test ebx, 0x20
	jz 70f
	mov byte ptr [rip + tv_have_avx2], 1
70:
	mov rax, qword ptr [rsp]
	mov qword ptr [rip + tv_argc], rax
	lea rax, [rsp+8]
	mov qword ptr [rip + tv_argv], rax
	# stack limit = rsp - (RLIMIT_STACK soft limit - 256 KiB), 8 MiB when unlimited/huge
	sub rsp, 16
	mov edi, 3
	mov rsi, rsp
	mov eax, ${SYS.getrlimit}
	syscall
	mov rax, qword ptr [rsp]
	add rsp, 16
	mov ecx, 0x800000
	cmp rax, 0x40000000
	cmova rax, rcx
	cmp rax, 0x80000
	jae 1f
	mov eax, 0x80000
1:	sub rax, 0x40000
	mov rcx, rsp
	sub rcx, rax
	mov qword ptr [rip + tv_stack_limit], rcx
	# sigaltstack(&{sp, flags, size}, NULL)
	sub rsp, 32
	lea rax, [rip + tv_altstack]
	mov qword ptr [rsp], rax
	mov qword ptr [rsp+8], 0
	mov qword ptr [rsp+16], 65536
	mov rdi, rsp
	xor esi, esi
	mov eax, ${SYS.sigaltstack}
	syscall
	# rt_sigaction(SIGSEGV/SIGBUS, {handler, SA_SIGINFO|SA_ONSTACK|SA_RESTORER, restorer, mask 0})
	lea rax, [rip + tv_rt_segv]
	mov qword ptr [rsp], rax
	mov qword ptr [rsp+8], 0x0C000004
	lea rax, [rip + tv_rt_restorer]
	mov qword ptr [rsp+16], rax
	mov qword ptr [rsp+24], 0
	mov edi, 11
	mov rsi, rsp
	xor edx, edx
	mov r10d, 8
	mov eax, ${SYS.rt_sigaction}
	syscall
	mov edi, 7
	mov rsi, rsp
	xor edx, edx
	mov r10d, 8
	mov eax, ${SYS.rt_sigaction}
	syscall
	add rsp, 32
${o.hasMemory ? mapMemory(o.initialPages) : ""}
	and rsp, -16
	call wasm_init
${o.mainSym ? `\tcall ${o.mainSym}` : "\txor eax, eax"}
	mov ebx, eax
	call tv_rt_flush
	movzx edi, bl
	mov eax, ${SYS.exit_group}
	syscall
	ud2

${memoryGrow()}
# al = byte
tv_rt_putc:
	mov rcx, qword ptr [rip + tv_outlen]
	lea rdx, [rip + tv_outbuf]
	mov byte ptr [rdx+rcx], al
	inc rcx
	mov qword ptr [rip + tv_outlen], rcx
	cmp rcx, 4096
	jb 1f
	call tv_rt_flush
1:	ret

tv_rt_flush:
	push rsi
	push rdi
	push r11
	lea rsi, [rip + tv_outbuf]
	mov rdx, qword ptr [rip + tv_outlen]
1:	test rdx, rdx
	jz 2f
	mov edi, 1
	mov eax, ${SYS.write}
	push rdx
	syscall
	pop rdx
	test rax, rax
	jle 2f
	add rsi, rax
	sub rdx, rax
	jmp 1b
2:	mov qword ptr [rip + tv_outlen], 0
	pop r11
	pop rdi
	pop rsi
	ret

# eax = i -> eax = argv[i+1] parsed as a decimal integer (0 when absent)
tv_rt_arg:
	push rsi
	mov ecx, eax
	inc rcx
	cmp rcx, qword ptr [rip + tv_argc]
	jae 8f
	mov rsi, qword ptr [rip + tv_argv]
	mov rsi, qword ptr [rsi+rcx*8]
	xor eax, eax
	xor edx, edx
	cmp byte ptr [rsi], 45
	jne 1f
	mov edx, 1
	inc rsi
1:	movzx ecx, byte ptr [rsi]
	sub ecx, 48
	cmp ecx, 9
	ja 2f
	imul eax, eax, 10
	add eax, ecx
	inc rsi
	jmp 1b
2:	test edx, edx
	jz 3f
	neg eax
3:	pop rsi
	ret
8:	xor eax, eax
	pop rsi
	ret

# write(2, rsi, rdx)
tv_rt_write2:
	mov edi, 2
	mov eax, ${SYS.write}
	syscall
	ret

# tv_trap(code: edi, rip: rsi, rbp: rdx): noreturn
.globl tv_trap
tv_trap:
	mov r12d, edi
	cmp r12d, ${TRAP_MESSAGES.length}
	jb 1f
	xor r12d, r12d
1:	call tv_rt_flush
	lea rsi, [rip + tv_trap_prefix]
	mov edx, 11
	call tv_rt_write2
	lea rax, [rip + tv_trap_msgs]
	mov r13, r12
	shl r13, 4
	mov rsi, qword ptr [rax+r13]
	mov rdx, qword ptr [rax+r13+8]
	call tv_rt_write2
	lea edi, [r12+100]
	mov eax, ${SYS.exit_group}
	syscall
	ud2

# rsi = message, edx = length: "wasm trap: <message>", status 109
tv_rt_hwtrap:
	and rsp, -16
	mov r12, rsi
	mov r13, rdx
	call tv_rt_flush
	lea rsi, [rip + tv_trap_prefix]
	mov edx, 11
	call tv_rt_write2
	mov rsi, r12
	mov rdx, r13
	call tv_rt_write2
	lea rsi, [rip + tv_tm_nl]
	mov edx, 1
	call tv_rt_write2
	mov edi, 109
	mov eax, ${SYS.exit_group}
	syscall
	ud2

# SIGSEGV/SIGBUS handler (rdi = signo, rsi = siginfo, rdx = ucontext), on the alternate stack
tv_rt_segv:
	mov rax, qword ptr [rsi+16]
	movabs rcx, ${hex(WASM_BASE)}
	sub rax, rcx
	movabs rcx, ${hex(o.memSpan ?? GUARD_BYTES)}
	cmp rax, rcx
	jae 1f
	mov edi, 5
	jmp 2f
1:	mov edi, 9
	lea rsi, [rip + tv_segv_msg]
	mov edx, ${"segmentation fault outside linear memory".length}
	jmp tv_rt_hwtrap
2:	mov rsi, qword ptr [rdx+168]
	mov rdx, qword ptr [rdx+120]
	and rsp, -16
	call tv_trap

tv_rt_restorer:
	mov eax, ${SYS.rt_sigreturn}
	syscall

.section .rodata
tv_trap_prefix: .ascii "wasm trap: "
tv_tm_nl: .ascii "\\n"
tv_segv_msg: .ascii "segmentation fault outside linear memory"
${msgs}
.p2align 3
tv_trap_msgs:
${msgTab}

.bss
.p2align 4
.globl tv_stack_limit
tv_stack_limit: .zero 8
tv_argc: .zero 8
.globl tv_have_avx2
tv_have_avx2: .zero 8
tv_argv: .zero 8
tv_outlen: .zero 8
tv_outbuf: .zero 4096
tv_altstack: .zero 65536
`;
}

function mapMemory(initialPages: number): string {
  return `
	# reserve [WASM_BASE, WASM_BASE + 8 GiB + 64 KiB) as PROT_NONE, then open the initial pages${mapMemoryAt(WASM_BASE, initialPages, "5f").join("\n")}
	jmp 6f
5:	lea rsi, [rip + tv_mmap_msg]
	mov edx, 28
	jmp tv_rt_hwtrap
tv_mmap_msg: .ascii "cannot reserve linear memory"
6:`;
}

/**
 * Reserve a linked group member's linear memory at `base` (PROT_NONE, GUARD_BYTES), then open
 * its initial pages: the group's instantiation code (module.ts) runs it when the script defines
 * the module. Clobbers rax, rcx, rdx, rsi, rdi, r8-r11.
 */
export function mapMemoryAt(base: bigint, initialPages: number, label: string): string[] {
  return `
	movabs rdi, ${hex(base)}
	movabs rsi, ${hex(GUARD_BYTES)}
	xor edx, edx
	mov r10d, 0x104022
	mov r8, -1
	xor r9d, r9d
	mov eax, ${SYS.mmap}
	syscall
	movabs rdi, ${hex(base)}
	cmp rax, rdi
	jne ${label}
${initialPages ? `	movabs rsi, ${hex(BigInt(initialPages) * 65536n)}
	mov edx, 3
	mov eax, ${SYS.mprotect}
	syscall
	test rax, rax
	jnz ${label}` : ""}`.split("\n");
}

/** memory.grow (the runtime's, and each linked group member's): the memory is the one r15
 *  points at (WASM_BASE for a single module; in a group its own or the exporter's), its size and
 *  maximum are the module's symbols. */
function memoryGrow(): string {
  return `# eax = delta pages -> eax = old pages or -1; preserves all but rax, rcx, rdx
tv_rt_memory_grow:
	push rsi
	push rdi
	push r11
	push rbx
	mov ecx, eax
	mov rbx, qword ptr [rip + tv_mem_pages]
	lea rsi, [rbx+rcx]
	mov edx, dword ptr [rip + wasm_memory_max_pages]
	cmp rsi, rdx
	ja 8f
	test ecx, ecx
	jz 7f
	push rsi
	mov rdi, rbx
	shl rdi, 16
	add rdi, r15
	mov rsi, rcx
	shl rsi, 16
	mov edx, 3
	mov eax, ${SYS.mprotect}
	syscall
	pop rsi
	test rax, rax
	jnz 8f
	mov qword ptr [rip + tv_mem_pages], rsi
7:	mov eax, ebx
	jmp 9f
8:	mov eax, -1
9:	pop rbx
	pop r11
	pop rdi
	pop rsi
	ret
`;
}

/** memory.grow for a linked group member (see memoryGrow). */
export function linkedMemoryGrow(): string[] {
  return memoryGrow().split("\n");
}
