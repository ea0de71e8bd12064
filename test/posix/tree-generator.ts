/**
 * A generated file tree for the tools workload, written to a LOCAL directory
 * (never the one under test): a few hundred files of mixed sizes in nested
 * directories, with the names and kinds that trip copying tools: empty
 * files and directories, spaces, UTF-8, a 200-byte name, hidden files,
 * symlinks (relative and dangling), executable and private modes, and
 * varied, sub-second mtimes. The special names are at the top level. Sizes and names come from a seeded PRNG, so
 * a failing run can be repeated; the content is random bytes.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeSummary {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
}

/** Mulberry32: small, fast, good enough to pick sizes and shapes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mostly small files, some medium, a few of a megabyte or more: like a source tree with some assets. */
function pickSize(random: () => number): number {
  const r = random();
  if (r < 0.05) return 0;
  if (r < 0.4) return Math.floor(random() * 200);
  if (r < 0.85) return 1024 + Math.floor(random() * 31 * 1024);
  if (r < 0.98) return 32 * 1024 + Math.floor(random() * 224 * 1024);
  return 1024 * 1024 + Math.floor(random() * 1024 * 1024);
}

const SPECIAL_NAMES = ['with space.txt', 'ünïcödé-名前.txt', '.hidden', `${'long-'.repeat(39)}name`, 'dash-leading', '#hash#', "quote'd"];

export async function generateTree(root: string, options: { files: number; seed: number }): Promise<TreeSummary> {
  const random = prng(options.seed);
  const summary: TreeSummary = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const dirs = [''];
  const makeDir = async (rel: string) => {
    await mkdir(join(root, rel), { recursive: true });
    dirs.push(rel);
    summary.directories++;
  };
  await mkdir(root, { recursive: true });
  for (let i = 0; i < Math.max(4, Math.floor(options.files / 12)); i++) {
    const parent = dirs[Math.floor(random() * dirs.length)]!;
    // Keep the tree at most four levels deep.
    if (parent.split('/').length >= 4) continue;
    await makeDir(join(parent, `dir${i}`));
  }
  await makeDir('empty-dir');
  const files: string[] = [];
  for (let i = 0; i < options.files; i++) {
    // The special names sit at the top, where callers can find them.
    const special = i < SPECIAL_NAMES.length;
    const dir = special ? '' : dirs[Math.floor(random() * dirs.length)]!;
    const name = special ? SPECIAL_NAMES[i]! : `file${i}.${['txt', 'bin', 'ts', 'dat'][i % 4]}`;
    const rel = join(dir, name);
    const size = pickSize(random);
    await writeFile(join(root, rel), randomBytes(size));
    const mode = random() < 0.1 ? 0o755 : random() < 0.1 ? 0o600 : 0o644;
    await chmod(join(root, rel), mode);
    files.push(rel);
    summary.files++;
    summary.bytes += size;
  }
  await symlink(files[files.length - 1]!, join(root, 'link-to-file'));
  await symlink('does/not/exist', join(root, 'dangling-link'));
  summary.symlinks += 2;
  // Varied mtimes with fractions, set after all writes (and children before parents) so that they stick.
  for (const rel of files) {
    const seconds = 1_500_000_000 + Math.floor(random() * 100_000_000) + Math.floor(random() * 1000) / 1000;
    await utimes(join(root, rel), seconds, seconds);
  }
  for (const rel of [...dirs].reverse()) await utimes(join(root, rel), 1_600_000_000.5, 1_600_000_000.5);
  return summary;
}
