/*
 * Summarizes a V8 .cpuprofile (as node:inspector writes it) into self time by where the code
 * lives (connect-node, protobuf, Flotilla's src/, Node internals, GC, ...) and the top functions.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'native (program)';
  if (url.includes('/node_modules/@connectrpc/')) return 'connect-node';
  if (url.includes('/node_modules/@bufbuild/protobuf/')) return 'protobuf runtime';
  if (url.includes('/node_modules/@viamrobotics/sdk/')) return 'protobuf (the SDK bundle)';
  if (url.includes('/node_modules/better-sqlite3/')) return 'better-sqlite3 (JS)';
  if (url.includes('/node_modules/kysely/')) return 'kysely';
  if (url.includes('/node_modules/tsx/')) return 'tsx';
  if (url.includes('/node_modules/')) return 'other packages';
  if (url.includes('/src/')) return 'Flotilla src/';
  if (url.startsWith('node:')) return 'Node internals';
  if (url === '') return 'native (V8 builtins, C++ bindings)';
  return 'other';
}

export interface ProfileSummary {
  /** Share of non-idle samples, %. */
  areas: { what: string; pct: number }[];
  functions: { what: string; pct: number }[];
  idlePct: number;
}

export function summarizeProfile(file: string, top = 8): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, k) => {
    const dt = profile.timeDeltas[k] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const area = areaOf(node.callFrame);
    total += dt;
    if (area === 'idle') {
      idle += dt;
      return;
    }
    areas.set(area, (areas.get(area) ?? 0) + dt);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${path.basename(url)}:${lineNumber + 1}` : 'native';
    const key = `${functionName || '(anonymous)'} (${where})`;
    functions.set(key, (functions.get(key) ?? 0) + dt);
  });
  const busy = total - idle;
  const rank = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([what, t]) => ({ what, pct: busy > 0 ? (t / busy) * 100 : 0 }));
  return {
    areas: rank(areas, 20),
    functions: rank(functions, top),
    idlePct: total > 0 ? (idle / total) * 100 : 0,
  };
}
