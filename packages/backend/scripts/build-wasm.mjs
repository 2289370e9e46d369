#!/usr/bin/env node
// Compiles csrc/kernels.c into the four wasm variants @mm/backend ships (relaxed-SIMD FMA or
// plain SIMD × shared or private imported memory) and writes them, base64, into
// src/kernels/simd/kernels-wasm.generated.ts. Needs clang and lld 14+ with the wasm32 target
// (Debian: apt-get install -y clang lld). Run: pnpm --filter @mm/backend build:wasm
// CLANG and LLVM_OBJDUMP pick other tools, e.g. CLANG=clang-16 LLVM_OBJDUMP=llvm-objdump-16.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'csrc', 'kernels.c');
const target = join(root, 'src', 'kernels', 'simd', 'kernels-wasm.generated.ts');
const work = mkdtempSync(join(tmpdir(), 'mm-build-wasm-'));

function findTool(names, override) {
  for (const name of override ? [override] : names) {
    try {
      execFileSync(name, ['--version'], { stdio: 'ignore' });
      return name;
    } catch {}
  }
  throw new Error(`build-wasm: none of ${(override ? [override] : names).join(', ')} found; install clang and lld (Debian: apt-get install -y clang lld).`);
}
const clang = findTool(['clang', 'clang-14', 'clang-15', 'clang-16'], process.env.CLANG);
// The disassembler of the same LLVM when the compiler has a version suffix (clang-16 → llvm-objdump-16).
const suffix = /-\d+$/.exec(clang)?.[0] ?? '';
const objdump = findTool([...(suffix ? [`llvm-objdump${suffix}`] : []), 'llvm-objdump', 'llvm-objdump-14', 'llvm-objdump-15', 'llvm-objdump-16'], process.env.LLVM_OBJDUMP);

// The relaxed multiply-add a·b + c as the compiler encoded it. clang 14 and 15 emit the
// relaxed-SIMD prototype's f32x4.fma (fd af 01), which engines no longer accept; clang 16+
// (csrc/kernels.c picks its builtin by __clang_major__) emits the final f32x4.relaxed_madd
// (fd 85 02). Counted from the disassembly's byte column, so the mnemonic an older objdump
// prints for either does not matter.
function multiplyAdds(listing) {
  const count = (bytes) => listing.split('\n').filter((line) => new RegExp(`^\\s*[0-9a-f]+:\\s+${bytes}\\s`).test(line)).length;
  return { prototype: count('fd af 01'), final: count('fd 85 02') };
}

// Prototype f32x4.fma → final f32x4.relaxed_madd: same length, same a·b + c. Rewritten in place,
// and the count is checked against the disassembler so no immediate that happens to hold those
// bytes is touched.
function patchFma(bytes, expected) {
  let patched = 0;
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] === 0xfd && bytes[i + 1] === 0xaf && bytes[i + 2] === 0x01) {
      bytes[i + 1] = 0x85;
      bytes[i + 2] = 0x02;
      patched++;
    }
  }
  if (patched !== expected) throw new Error(`build-wasm: found ${patched} f32x4.fma byte patterns but the disassembly has ${expected}; refusing to patch.`);
}

function build(relaxed, shared) {
  const out = join(work, `kernels-${relaxed ? 'relaxed' : 'plain'}-${shared ? 'shared' : 'private'}.wasm`);
  const args = [
    '--target=wasm32', '-O3', '-fno-builtin', '-nostdlib', '-msimd128', '-Wall', '-Werror',
    ...(relaxed ? ['-mrelaxed-simd', '-DRELAXED'] : []),
    ...(shared ? ['-matomics', '-mbulk-memory', '-Wl,--shared-memory', '-Wl,--max-memory=4294967296'] : []),
    '-Wl,--no-entry', '-Wl,--import-memory', '-Wl,--strip-all',
    source, '-o', out,
  ];
  execFileSync(clang, args, { stdio: 'inherit' });
  const listing = execFileSync(objdump, ['-d', out], { encoding: 'utf8' });
  // The module runs on another program's heap, on several threads: it must not use a stack
  // (its stack pointer would point into tfjs's memory) or own data.
  if (/global\.(get|set)/.test(listing)) throw new Error(`build-wasm: ${out} uses a global (stack pointer); keep csrc/kernels.c free of stack use.`);
  const headers = execFileSync(objdump, ['-h', out], { encoding: 'utf8' });
  if (/\bDATA\b/.test(headers)) throw new Error(`build-wasm: ${out} has a data segment; csrc/kernels.c must not need one.`);
  const bytes = readFileSync(out);
  const madds = multiplyAdds(listing);
  if (!relaxed) {
    if (madds.prototype + madds.final !== 0) throw new Error(`build-wasm: the plain build of ${out} contains relaxed multiply-adds`);
    return bytes.toString('base64');
  }
  if (madds.prototype > 0 && madds.final > 0) throw new Error(`build-wasm: ${out} mixes prototype and final multiply-add opcodes; refusing to patch.`);
  if (madds.prototype + madds.final === 0) throw new Error(`build-wasm: the relaxed build of ${out} has no multiply-add; is MADD in csrc/kernels.c still the relaxed builtin?`);
  if (madds.prototype > 0) {
    patchFma(bytes, madds.prototype);
    console.log(`build-wasm: ${out}: rewrote ${madds.prototype} prototype f32x4.fma to f32x4.relaxed_madd`);
  } else {
    console.log(`build-wasm: ${out}: ${madds.final} f32x4.relaxed_madd as emitted (no patch needed)`);
  }
  return bytes.toString('base64');
}

const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
const variants = {
  relaxedShared: build(true, true),
  relaxedPrivate: build(true, false),
  plainShared: build(false, true),
  plainPrivate: build(false, false),
};
const lines = [
  '// Generated by scripts/build-wasm.mjs from csrc/kernels.c — do not edit; rebuild with',
  '// `pnpm --filter @mm/backend build:wasm` (needs clang + lld).',
  `export const KERNELS_WASM_SOURCE_HASH = '${hash}';`,
  '',
  'export const KERNELS_WASM_BASE64 = {',
  ...Object.entries(variants).map(([name, b64]) => `  ${name}:\n    '${b64}',`),
  '} as const;',
  '',
];
writeFileSync(target, lines.join('\n'));
console.log(`build-wasm: wrote ${target} (${Object.values(variants).map((v) => Math.round((v.length * 3) / 4)).join(' / ')} bytes, source ${hash})`);
