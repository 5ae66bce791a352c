/*
 * `node --import tsx bench/struct-codec-bench.ts [--quick]`: encoding google.protobuf.Struct
 * from plain JSON, in this process, protobuf-es 1.10.1 against src/rpc/struct-codec.ts.
 *
 * Per config, three loops of fixed duration after a warm-up:
 * - protobuf-es `Struct.fromJson(json).toBinary()` (what a handler does with a stored config),
 * - protobuf-es `toBinary()` alone on a Struct built beforehand,
 * - `encodeStruct(json)`.
 * Before measuring, each config's bytes from both are compared: they must be identical.
 *
 * Writes bench/reports/struct-codec-latest.{json,md} (struct-codec-quick.* with --quick).
 * `measureStructCodec` is exported for the main benchmark's report.
 */
import { Struct, type JsonObject } from '@bufbuild/protobuf';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeStruct } from '../src/rpc/struct-codec.js';
import { environmentParagraph, writeReport } from './lib/report.js';
import { reportDate, runEnvironment } from './lib/run-info.js';
import { machineBusyPct, OTHER_CPU_WARN_PCT } from './lib/stats.js';

/** One config's result: µs per encoding and how many times faster encodeStruct is. */
export interface StructCodecRow {
  name: string;
  /** Size of the encoded Struct. */
  bytes: number;
  /** Size of the config as JSON text. */
  jsonBytes: number;
  /** protobuf-es `Struct.fromJson(json).toBinary()`. */
  protobufEsUs: number;
  /** protobuf-es `toBinary()` on a Struct built beforehand. */
  protobufEsToBinaryUs: number;
  /** `encodeStruct(json)`. */
  fastUs: number;
  /** protobufEsUs ÷ fastUs. */
  speedup: number;
  /** protobufEsToBinaryUs ÷ fastUs. */
  speedupToBinary: number;
}

const WARMUP_SECONDS = 0.2;

/** A component as viam-server configs have them: frame, attributes, dependencies. */
function component(i: number, extra: JsonObject = {}): JsonObject {
  const kinds: { api: string; model: string; attributes: JsonObject }[] = [
    {
      api: 'rdk:component:motor',
      model: 'rdk:builtin:gpio',
      attributes: {
        pins: { a: `${11 + i}`, b: `${13 + i}`, pwm: `${15 + i}` },
        board: 'local',
        max_rpm: 300,
        encoder: `enc-${i}`,
        ticks_per_rotation: 980,
      },
    },
    {
      api: 'rdk:component:camera',
      model: 'rdk:builtin:webcam',
      attributes: {
        video_path: `/dev/video${i}`,
        width_px: 1280,
        height_px: 720,
        frame_rate: 30,
        intrinsic_parameters: {
          fx: 906.4,
          fy: 905.8,
          ppx: 644.1,
          ppy: 361.7,
          width_px: 1280,
          height_px: 720,
        },
        distortion_parameters: { rk1: 0.1581, rk2: -0.4717, rk3: 0.4012, tp1: -0.0012, tp2: 0.0004 },
      },
    },
    {
      api: 'rdk:component:arm',
      model: 'viam:ufactory:xArm6',
      attributes: {
        host: `10.1.0.${20 + i}`,
        speed_degs_per_sec: 25.5,
        acceleration_degs_per_sec_per_sec: 100,
        port: 502,
        bad_joints: [],
        gripper: true,
      },
    },
    {
      api: 'rdk:component:board',
      model: 'viam:raspberry-pi:rpi5',
      attributes: {
        digital_interrupts: [
          { name: 'left', pin: '37' },
          { name: 'right', pin: '35' },
        ],
        analogs: [
          {
            name: 'battery',
            pin: '0',
            spi_bus: '0',
            chip_select: '24',
            average_over_ms: 100,
            samples_per_sec: 1000,
          },
        ],
        i2cs: [{ name: 'bus1', bus: '1' }],
      },
    },
    {
      api: 'rdk:component:movement_sensor',
      model: 'rdk:builtin:gps-nmea',
      attributes: {
        connection_type: 'serial',
        serial_attributes: {
          serial_path: '/dev/serial/by-id/usb-u-blox_GNSS_receiver-if00',
          serial_baud_rate: 38400,
        },
        disable_nmea: false,
        ntrip_attributes: null,
      },
    },
  ];
  const kind = kinds[i % kinds.length] as (typeof kinds)[number];
  return {
    name: `${kind.api.split(':').pop()}-${i}`,
    api: kind.api,
    model: kind.model,
    attributes: kind.attributes,
    depends_on: i % 2 === 0 ? ['local'] : [],
    frame: {
      parent: 'world',
      translation: { x: 12.5 * i, y: -3.25, z: 110 },
      orientation: { type: 'ov_degrees', value: { x: 0, y: 0, z: 1, th: 90 * (i % 4) } },
    },
    service_configs:
      i % 3 === 0
        ? [
            {
              type: 'data_manager',
              attributes: {
                capture_methods: [
                  {
                    method: 'ReadImage',
                    capture_frequency_hz: 0.5,
                    additional_params: { mime_type: 'image/jpeg' },
                  },
                ],
              },
            },
          ]
        : [],
    ...extra,
  };
}

/** A robot part's config: components, services, modules, network and agent settings. */
function robotConfig(components: number, extra: (i: number) => JsonObject = () => ({})): JsonObject {
  return {
    components: Array.from({ length: components }, (_, i) => component(i, extra(i))),
    services: [
      {
        name: 'data_manager-1',
        api: 'rdk:service:data_manager',
        attributes: { sync_interval_mins: 0.1, capture_dir: '', tags: ['bench'], additional_sync_paths: [] },
      },
      {
        name: 'nav',
        api: 'rdk:service:navigation',
        model: 'rdk:builtin:builtin',
        attributes: {
          base: 'base-1',
          movement_sensor: 'movement_sensor-4',
          obstacle_detectors: [],
          position_polling_frequency_hz: 1,
          meters_per_sec: 0.3,
          degs_per_sec: 45,
        },
      },
    ],
    modules: [
      { type: 'registry', name: 'viam_raspberry-pi', module_id: 'viam:raspberry-pi', version: '1.1.2' },
      { type: 'registry', name: 'viam_ufactory', module_id: 'viam:ufactory', version: 'latest' },
    ],
    network: { bind_address: ':8080', sessions: { heartbeat_window: '2s' } },
    agent: {
      advanced_settings: { debug: false, wait_for_update_check: true },
      version_control: { agent: 'stable', 'viam-server': 'stable' },
    },
    debug: false,
    disable_partial_start: false,
  };
}

/** Configs: a typical part (~3 KB of JSON), a busy one, and a large one with waypoint lists. */
export function benchConfigs(): { name: string; json: JsonObject }[] {
  const waypoints = (i: number) => ({
    notes: `Mission ${i}: survey the east field, avoid the irrigation lines — Größe/размер/区域 ✓`,
    waypoints: Array.from({ length: 80 }, (_, k) => ({
      lat: 40.7128 + k * 1e-5,
      lng: -74.006 - i * 1e-4,
      alt: 12.25,
      label: `wp-${i}-${k}`,
    })),
  });
  return [
    { name: 'typical part (5 components)', json: robotConfig(5) },
    { name: 'busy part (40 components)', json: robotConfig(40) },
    {
      name: 'large part (100 components, waypoints)',
      json: robotConfig(100, (i) => (i % 4 === 0 ? waypoints(i) : {})),
    },
  ];
}

/** µs per call of `fn`, over `seconds` after a warm-up; batches keep clock reads rare. */
async function usPerOp(fn: () => Uint8Array, seconds: number): Promise<number> {
  let sink = 0;
  const run = (ms: number): { ops: number; elapsed: number } => {
    let ops = 0;
    let batch = 1;
    const start = performance.now();
    let now = start;
    while (now - start < ms) {
      for (let i = 0; i < batch; i++) sink += fn().length;
      ops += batch;
      now = performance.now();
      if (now - start < 1 && batch < 1 << 16) batch *= 2; // a batch of about 1 ms or more
    }
    return { ops, elapsed: now - start };
  };
  run(WARMUP_SECONDS * 1000);
  await new Promise((resolve) => setImmediate(resolve)); // let the event loop breathe between loops
  const { ops, elapsed } = run(seconds * 1000);
  if (sink === 0) throw new Error('nothing was encoded');
  return (elapsed * 1000) / ops;
}

/** Measures each config: protobuf-es (fromJson + toBinary, and toBinary alone) against encodeStruct. */
export async function measureStructCodec(options: { seconds: number }): Promise<{ rows: StructCodecRow[] }> {
  const rows: StructCodecRow[] = [];
  for (const { name, json } of benchConfigs()) {
    const built = Struct.fromJson(json);
    const expected = Buffer.from(built.toBinary());
    const fast = encodeStruct(json);
    if (!expected.equals(fast)) throw new Error(`${name}: encodeStruct's bytes differ from protobuf-es's`);
    const protobufEsUs = await usPerOp(() => Struct.fromJson(json).toBinary(), options.seconds);
    const protobufEsToBinaryUs = await usPerOp(() => built.toBinary(), options.seconds);
    const fastUs = await usPerOp(() => encodeStruct(json), options.seconds);
    rows.push({
      name,
      bytes: fast.length,
      jsonBytes: Buffer.byteLength(JSON.stringify(json)),
      protobufEsUs,
      protobufEsToBinaryUs,
      fastUs,
      speedup: protobufEsUs / fastUs,
      speedupToBinary: protobufEsToBinaryUs / fastUs,
    });
  }
  return { rows };
}

const us = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

/** The rows as a markdown table. */
export function structCodecTable(rows: StructCodecRow[]): string {
  const lines = [
    '| config | JSON | encoded | protobuf-es fromJson + toBinary (µs) | protobuf-es toBinary alone (µs) | encodeStruct (µs) | speedup vs fromJson + toBinary | speedup vs toBinary alone |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.jsonBytes.toLocaleString('en-US')} B | ${r.bytes.toLocaleString('en-US')} B | ${us(r.protobufEsUs)} | ${us(r.protobufEsToBinaryUs)} | ${us(r.fastUs)} | **${r.speedup.toFixed(1)}×** | **${r.speedupToBinary.toFixed(1)}×** |`,
    );
  }
  return lines.join('\n');
}

const range = (xs: number[]): string => {
  const lo = Math.min(...xs).toFixed(1);
  const hi = Math.max(...xs).toFixed(1);
  return lo === hi ? `${lo}×` : `${lo}× to ${hi}×`;
};

/** One sentence: how many times faster encodeStruct was, against both protobuf-es loops. */
export function speedupSummary(rows: StructCodecRow[]): string {
  return (
    `encodeStruct was ${range(rows.map((r) => r.speedup))} faster than protobuf-es's ` +
    `fromJson + toBinary, and ${range(rows.map((r) => r.speedupToBinary))} faster than its toBinary alone.`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  const quick = values.quick;
  const seconds = quick ? 0.3 : 1;
  const busyBeforeStartPct = await machineBusyPct(500);
  const environment = runEnvironment({ loadavgAtStart: os.loadavg(), busyBeforeStartPct }, {});
  const date = reportDate();
  const { rows } = await measureStructCodec({ seconds });
  // Both sides run in this one process, so a busy machine slows both; the ratios hold up better
  // than the µs, but one loop can still be unlucky.
  const warnings =
    busyBeforeStartPct !== undefined && busyBeforeStartPct > OTHER_CPU_WARN_PCT
      ? [`the machine was ${Math.round(busyBeforeStartPct)}% of a core busy just before the run`]
      : [];
  const markdown = [
    `# google.protobuf.Struct encoding — ${date}`,
    '',
    environmentParagraph(environment),
    '',
    `In one process, ${seconds} s per measurement after ${WARMUP_SECONDS} s of warm-up. ` +
      'Both encoders produced identical bytes for every config.',
    '',
    structCodecTable(rows),
    '',
    speedupSummary(rows),
    '',
    ...warnings.map((w) => `**Warning:** ${w}; the µs are noisy.\n`),
  ].join('\n');
  const name = quick ? 'struct-codec-quick' : 'struct-codec-latest';
  const md = await writeReport(
    name,
    { date, environment, settings: { quick, seconds, warmupSeconds: WARMUP_SECONDS }, rows, warnings },
    markdown,
  );
  console.log(md);
  console.log(`written to bench/reports/${name}.md and .json`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  });
}
