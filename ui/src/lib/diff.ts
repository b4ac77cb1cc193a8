// A line diff (longest common subsequence) laid out side by side, with the
// unchanged stretches folded, for the config review.

/** One side of a diff row: the line number (1-based) and its text. */
export interface DiffCell {
  n: number;
  text: string;
}

/** One row of a side-by-side diff. */
export type DiffRow =
  | { kind: "same" | "removed" | "added" | "changed"; left: DiffCell | null; right: DiffCell | null }
  | { kind: "fold"; count: number };

type Op = { op: "same"; a: number; b: number } | { op: "del"; a: number } | { op: "add"; b: number };

/** Above this many cells the middle part is shown as replaced, not diffed. */
const MAX_CELLS = 4_000_000;

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function lcsOps(a: string[], b: string[], a0: number, a1: number, b0: number, b1: number): Op[] {
  const n = a1 - a0;
  const m = b1 - b0;
  const ops: Op[] = [];
  if (n * m > MAX_CELLS) {
    for (let i = a0; i < a1; i++) ops.push({ op: "del", a: i });
    for (let j = b0; j < b1; j++) ops.push({ op: "add", b: j });
    return ops;
  }
  // table[i][j] = LCS length of a[a0+i..a1) and b[b0+j..b1)
  const width = m + 1;
  const table = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i * width + j] =
        a[a0 + i] === b[b0 + j]
          ? table[(i + 1) * width + j + 1] + 1
          : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[a0 + i] === b[b0 + j]) {
      ops.push({ op: "same", a: a0 + i, b: b0 + j });
      i++;
      j++;
    } else if (table[(i + 1) * width + j] >= table[i * width + j + 1]) {
      ops.push({ op: "del", a: a0 + i });
      i++;
    } else {
      ops.push({ op: "add", b: b0 + j });
      j++;
    }
  }
  for (; i < n; i++) ops.push({ op: "del", a: a0 + i });
  for (; j < m; j++) ops.push({ op: "add", b: b0 + j });
  return ops;
}

function diffOps(a: string[], b: string[]): Op[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const ops: Op[] = [];
  for (let k = 0; k < start; k++) ops.push({ op: "same", a: k, b: k });
  ops.push(...lcsOps(a, b, start, endA, start, endB));
  for (let k = 0; k < a.length - endA; k++) ops.push({ op: "same", a: endA + k, b: endB + k });
  return ops;
}

/** Pairs each run of removed lines with the added lines that follow it. */
function toRows(a: string[], b: string[], ops: Op[]): DiffRow[] {
  const rows: DiffRow[] = [];
  let k = 0;
  while (k < ops.length) {
    const op = ops[k];
    if (op.op === "same") {
      rows.push({ kind: "same", left: { n: op.a + 1, text: a[op.a] }, right: { n: op.b + 1, text: b[op.b] } });
      k++;
      continue;
    }
    const dels: number[] = [];
    const adds: number[] = [];
    while (k < ops.length && ops[k].op !== "same") {
      const o = ops[k];
      if (o.op === "del") dels.push(o.a);
      else if (o.op === "add") adds.push(o.b);
      k++;
    }
    const len = Math.max(dels.length, adds.length);
    for (let r = 0; r < len; r++) {
      const left = r < dels.length ? { n: dels[r] + 1, text: a[dels[r]] } : null;
      const right = r < adds.length ? { n: adds[r] + 1, text: b[adds[r]] } : null;
      rows.push({ kind: left && right ? "changed" : left ? "removed" : "added", left, right });
    }
  }
  return rows;
}

/** Folds unchanged stretches longer than twice `context` lines. */
function fold(rows: DiffRow[], context: number): DiffRow[] {
  const out: DiffRow[] = [];
  let k = 0;
  while (k < rows.length) {
    if (rows[k].kind !== "same") {
      out.push(rows[k++]);
      continue;
    }
    let end = k;
    while (end < rows.length && rows[end].kind === "same") end++;
    const keepHead = k === 0 ? 0 : context;
    const keepTail = end === rows.length ? 0 : context;
    if (end - k > keepHead + keepTail + 1) {
      out.push(...rows.slice(k, k + keepHead));
      out.push({ kind: "fold", count: end - k - keepHead - keepTail });
      out.push(...rows.slice(end - keepTail, end));
    } else {
      out.push(...rows.slice(k, end));
    }
    k = end;
  }
  return out;
}

/** The side-by-side diff of two texts; `context` unchanged lines are kept around changes. */
export function sideBySide(before: string, after: string, context = 3): DiffRow[] {
  const a = splitLines(before);
  const b = splitLines(after);
  return fold(toRows(a, b, diffOps(a, b)), context);
}

/** True when two texts have the same lines. */
export function sameLines(before: string, after: string): boolean {
  const a = splitLines(before);
  const b = splitLines(after);
  return a.length === b.length && a.every((line, i) => line === b[i]);
}
