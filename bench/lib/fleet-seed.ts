/*
 * A seeded fleet for the machines benchmark: one template machine made through the public API
 * (fragments, one of them nested; a location; a machine whose part config uses them; its
 * secret), then cloned row by row with better-sqlite3 while the server is stopped.
 *
 * Every clone is a copy of rows the API wrote: the template's rows are read with `select *` and
 * written again with new ids, names and times, so a column added later is copied as it is. The
 * part secret and location secret ciphertexts are reused, so every clone's part authenticates
 * with the template's secret value. Locations hold `perLocation` machines each.
 *
 * Ids are random, as the server makes them, but handed out in sorted order (locations, then
 * machines within a location), so every index is appended to rather than split: seeding 1M
 * machines takes well under a minute instead of several. The B-trees come out packed tighter
 * than ones grown by random inserts; the report says so.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { statSync } from 'node:fs';
import { Struct } from '@bufbuild/protobuf';
import { createPromiseClient } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import type { appRobotApi } from '@viamrobotics/sdk';
import SQLite, { type Database as SqliteDatabase } from 'better-sqlite3';
import { dnsNameOf } from '../../src/domain/part-address.js';
import { AuthService } from '../../src/rpc/auth-service-descriptor.js';
import { AppService, RobotService } from '../../src/rpc/service-descriptors.generated.js';
import { sqliteFileIn } from '../../src/store/database.js';

/** The machine every clone copies, as the API made it. */
export interface FleetTemplate {
  organizationId: string;
  locationId: string;
  robotId: string;
  partId: string;
  /** The part secret's value: every clone's part authenticates with it. */
  secret: string;
  /** The fragments the part lists (top level) and the one the first of them includes. */
  fragmentIds: { top: string[]; nested: string };
  /** What the config served to any machine of the fleet must hold. */
  served: ServedExpectation;
  /** How long the API calls took, ms. */
  apiMs: number;
}

/**
 * What RobotService.Config must serve every machine: a component from each level of the merge
 * (the nested fragment, each top-level fragment, the part itself), the fragments' services, and
 * the part's `fragment_mods` applied.
 */
export interface ServedExpectation {
  components: string[];
  services: string[];
  modded: { component: string; attribute: string; value: number };
}

const SERVED: ServedExpectation = {
  components: ['env-sensor', 'left-motor', 'front-cam', 'power', 'gps'],
  services: ['detector', 'data_manager'],
  modded: { component: 'left-motor', attribute: 'max_rpm', value: 240 },
};

/** What is wrong with a served config for `partId`, if anything. */
export function servedConfigProblem(
  config: appRobotApi.RobotConfig | undefined,
  partId: string,
  e: ServedExpectation,
): string | undefined {
  if (config?.cloud?.id !== partId) return `Config served part ${config?.cloud?.id ?? '?'}, not ${partId}`;
  const components = new Map(config.components.map((c) => [c.name, c]));
  const missing = e.components.find((name) => !components.has(name));
  if (missing) return `Config lacks component ${missing} (the fragments were not all merged)`;
  const service = e.services.find((name) => !config.services.some((s) => s.name === name));
  if (service) return `Config lacks service ${service}`;
  const attributes = components.get(e.modded.component)?.attributes?.toJson() as
    Record<string, unknown> | undefined;
  if (attributes?.[e.modded.attribute] !== e.modded.value) {
    return `Config: ${e.modded.component}.${e.modded.attribute} is ${String(attributes?.[e.modded.attribute])}, not ${e.modded.value} (fragment_mods not applied)`;
  }
  return undefined;
}

/** A machine of the seeded fleet, as the load generator needs it. */
export interface SampledPart {
  id: string;
  /** The machine's name: the host its log entries carry. */
  host: string;
}

export interface SeedReport {
  machines: number;
  locations: number;
  perLocation: number;
  /** Rows written per table (the template's own rows not counted). */
  rowsWritten: Record<string, number>;
  /** Rows per table after seeding. */
  rowsAfter: Record<string, number>;
  /** Tables with rows that point at the template but were not cloned (should be empty). */
  notCloned: string[];
  templateMs: number;
  cloneMs: number;
  /** Where the clone's time went, ms: new ids, inserts, back to WAL, counting rows. */
  phasesMs: { ids: number; inserts: number; wal: number; count: number };
  /** The database file (WAL checkpointed) after seeding, bytes. */
  dbBytes: number;
}

export interface SeededFleet {
  report: SeedReport;
  /** Distinct machines drawn at random from the whole fleet, in random order. */
  sample: SampledPart[];
  /** Locations holding `perLocation` machines, drawn at random. */
  fullLocations: string[];
}

type Json = Record<string, unknown>;

// ---- the template, through the public API ----

const motor = (name: string, pins: { a: string; b: string; pwm: string }, encoder: string): Json => ({
  name,
  api: 'rdk:component:motor',
  model: 'rdk:builtin:gpio',
  attributes: {
    board: 'local',
    pins,
    encoder,
    ticks_per_rotation: 960,
    max_rpm: 300,
    dir_flip: false,
  },
  depends_on: ['local', encoder],
});
const encoder = (name: string, interrupt: string): Json => ({
  name,
  api: 'rdk:component:encoder',
  model: 'rdk:builtin:single',
  attributes: { board: 'local', pins: { i: interrupt } },
  depends_on: ['local'],
});

/** The nested fragment: the compute board, IMU and environment sensor every rover carries. */
const BASE_HARDWARE: Json = {
  components: [
    {
      name: 'local',
      api: 'rdk:component:board',
      model: 'viam:raspberry-pi:rpi5',
      attributes: {
        digital_interrupts: [
          { name: 'left-enc-a', pin: '38' },
          { name: 'right-enc-a', pin: '40' },
        ],
      },
    },
    {
      name: 'imu',
      api: 'rdk:component:movement_sensor',
      model: 'viam:imu-wit:imu-wit',
      attributes: { serial_path: '/dev/ttyUSB0', serial_baud_rate: 115200 },
    },
    {
      name: 'env-sensor',
      api: 'rdk:component:sensor',
      model: 'acme:sensor-hub:bme280',
      attributes: { i2c_bus: '1', i2c_address: '0x76', sample_rate_hz: 2 },
      depends_on: ['local'],
    },
  ],
  modules: [
    {
      type: 'local',
      name: 'sensor-hub',
      executable_path: '/opt/acme/sensor-hub/bin/sensor-hub',
      log_level: 'info',
    },
  ],
};

/** Top-level fragment 1: the drive train; it includes the base hardware fragment. */
const driveTrain = (baseHardwareId: string): Json => ({
  fragments: [baseHardwareId],
  components: [
    encoder('left-enc', 'left-enc-a'),
    encoder('right-enc', 'right-enc-a'),
    motor('left-motor', { a: '11', b: '13', pwm: '15' }, 'left-enc'),
    motor('right-motor', { a: '16', b: '18', pwm: '22' }, 'right-enc'),
    {
      name: 'base',
      api: 'rdk:component:base',
      model: 'rdk:builtin:wheeled',
      attributes: {
        left: ['left-motor'],
        right: ['right-motor'],
        wheel_circumference_mm: 217,
        width_mm: 260,
        spin_slip_factor: 1.76,
      },
      depends_on: ['left-motor', 'right-motor'],
    },
  ],
});

/** Top-level fragment 2: a camera and an object detector on it. */
const VISION: Json = {
  components: [
    {
      name: 'front-cam',
      api: 'rdk:component:camera',
      model: 'rdk:builtin:webcam',
      attributes: {
        video_path: '/dev/video0',
        width_px: 1280,
        height_px: 720,
        frame_rate: 30,
        intrinsic_parameters: {
          fx: 939.27,
          fy: 940.29,
          ppx: 320.61,
          ppy: 239.14,
          width_px: 1280,
          height_px: 720,
        },
        distortion_parameters: { rk1: 0.0464, rk2: 0.8384, rk3: -5.2906, tp1: -0.0031, tp2: 0.0004 },
      },
      frame: {
        parent: 'world',
        translation: { x: 0, y: 120, z: 310 },
        orientation: { type: 'ov_degrees', value: { x: 0, y: 0, z: 1, th: 0 } },
      },
    },
  ],
  services: [
    {
      name: 'yolo',
      api: 'rdk:service:mlmodel',
      model: 'viam:mlmodel-tflite:tflite_cpu',
      attributes: {
        model_path: '/opt/models/yolov8n.tflite',
        label_path: '/opt/models/labels.txt',
        num_threads: 2,
      },
    },
    {
      name: 'detector',
      api: 'rdk:service:vision',
      model: 'rdk:builtin:mlmodel',
      attributes: { mlmodel_name: 'yolo', default_minimum_confidence: 0.55, camera_name: 'front-cam' },
      depends_on: ['yolo', 'front-cam'],
    },
  ],
};

/** Top-level fragment 3: data capture and sync, and a power sensor from a telemetry module. */
const TELEMETRY: Json = {
  components: [
    {
      name: 'power',
      api: 'rdk:component:power_sensor',
      model: 'acme:telemetry:ina219',
      attributes: { i2c_bus: '1', i2c_address: '0x40', max_current_amps: 10, shunt_resistance: 0.1 },
    },
  ],
  services: [
    {
      name: 'data_manager',
      api: 'rdk:service:data_manager',
      model: 'rdk:builtin:builtin',
      attributes: {
        capture_dir: '',
        sync_interval_mins: 0.5,
        tags: ['fleet', 'rover'],
        additional_sync_paths: [],
        capture_disabled: false,
      },
    },
  ],
  modules: [
    {
      type: 'local',
      name: 'telemetry-agent',
      executable_path: '/opt/acme/telemetry/bin/telemetry-agent',
      log_level: 'warn',
      env: { TELEMETRY_BATCH: '50' },
    },
  ],
};

/** The part's own config: the three fragments, a tweak to one of them, and its GPS. */
const partConfig = (top: string[]): Json => ({
  fragments: top,
  fragment_mods: [
    {
      fragment_id: top[0],
      mods: [{ $set: { 'components.left-motor.attributes.max_rpm': 240 } }],
    },
  ],
  components: [
    {
      name: 'gps',
      api: 'rdk:component:movement_sensor',
      model: 'viam:gps:nmea-serial',
      attributes: {
        serial_path: '/dev/ttyAMA0',
        serial_baud_rate: 38400,
        ntrip: { url: 'rtk.example.net:2101', mountpoint: 'RTCM3', username: 'rover', password: 'n7r8i9p0' },
      },
    },
  ],
});

/** Name of the template's location and machine; clones continue the numbering. */
const locationName = (k: number) => `Site ${String(k + 1).padStart(5, '0')}`;
const machineName = (k: number) => `rover-${String(k + 1).padStart(7, '0')}`;

/**
 * Creates the template through the running server's public API, as the owner (the init API
 * key): 4 fragments (3 used by the part, one of those including the 4th), a location, a
 * machine, and its part's config.
 */
export async function createTemplate(
  url: string,
  owner: { organizationId: string; apiKeyId: string; apiKey: string },
): Promise<FleetTemplate> {
  const started = performance.now();
  const sessions = new Http2SessionManager(url);
  try {
    const transport = createGrpcTransport({ baseUrl: url, httpVersion: '2', sessionManager: sessions });
    const auth = createPromiseClient(AuthService, transport);
    const app = createPromiseClient(AppService, transport);
    const { accessToken } = await auth.authenticate({
      entity: owner.apiKeyId,
      credentials: { type: 'api-key', payload: owner.apiKey },
    });
    const headers = { authorization: `Bearer ${accessToken}` };
    const fragment = async (name: string, config: Json) => {
      const { fragment: made } = await app.createFragment(
        { organizationId: owner.organizationId, name, config: Struct.fromJson(config as never) },
        { headers },
      );
      if (!made?.id) throw new Error(`CreateFragment ${name} returned no fragment`);
      return made.id;
    };
    const nested = await fragment('base-hardware', BASE_HARDWARE);
    const top = [
      await fragment('drive-train', driveTrain(nested)),
      await fragment('vision', VISION),
      await fragment('telemetry', TELEMETRY),
    ];
    const { location } = await app.createLocation(
      { organizationId: owner.organizationId, name: locationName(0) },
      { headers },
    );
    if (!location?.id) throw new Error('CreateLocation returned no location');
    const { id: robotId } = await app.newRobot({ name: machineName(0), location: location.id }, { headers });
    const { parts } = await app.getRobotParts({ robotId }, { headers });
    const main = parts.find((p) => p.mainPart);
    if (!main) throw new Error('the new machine has no main part');
    await app.updateRobotPart(
      { id: main.id, name: main.name, robotConfig: Struct.fromJson(partConfig(top) as never) },
      { headers },
    );
    const { part } = await app.getRobotPart({ id: main.id }, { headers });
    const secret = part?.secrets[0]?.secret;
    if (!secret) throw new Error('the template part has no secret');
    return {
      organizationId: owner.organizationId,
      locationId: location.id,
      robotId,
      partId: main.id,
      secret,
      fragmentIds: { top, nested },
      served: SERVED,
      apiMs: performance.now() - started,
    };
  } finally {
    sessions.abort();
  }
}

// ---- cloning ----

type Row = Record<string, unknown>;

const HEX_DIGITS = Buffer.from('0123456789abcdef');

/**
 * `n` distinct random version-4 UUIDs in ascending order. Each id's first 48 bits are drawn
 * from its own 1/n-th of the range (so they ascend without a sort), the rest at random. Written
 * as ASCII into one buffer: far cheaper than a million randomUUID() calls.
 */
function sortedUuids(n: number): string[] {
  const text = Buffer.allocUnsafe(36 * n);
  const bytes = randomBytes(16 * n);
  const step = 2 ** 48 / Math.max(1, n);
  for (let i = 0; i < n; i++) {
    const r = i * 16;
    let head = Math.floor((i + Math.random()) * step);
    for (let b = 5; b >= 0; b--) {
      bytes[r + b] = head % 256;
      head = Math.floor(head / 256);
    }
    // Version 4 and the RFC 4122 variant, as randomUUID makes them.
    bytes[r + 6] = ((bytes[r + 6] as number) & 0x0f) | 0x40;
    bytes[r + 8] = ((bytes[r + 8] as number) & 0x3f) | 0x80;
    let o = i * 36;
    for (let b = 0; b < 16; b++) {
      if (b === 4 || b === 6 || b === 8 || b === 10) text[o++] = 0x2d;
      const v = bytes[r + b] as number;
      text[o++] = HEX_DIGITS[v >> 4] as number;
      text[o++] = HEX_DIGITS[v & 15] as number;
    }
  }
  const ids = new Array<string>(n);
  for (let i = 0; i < n; i++) ids[i] = text.toString('latin1', i * 36, i * 36 + 36);
  return ids;
}

/** `n` distinct random location ids (10 of [a-z0-9], as the server makes them), sorted. */
function sortedLocationIds(n: number, taken: string): string[] {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const ids = new Set<string>();
  while (ids.size < n) {
    const bytes = randomBytes(10);
    let id = '';
    // 36 does not divide 256: redraw the few bytes that would bias the choice.
    for (let i = 0; i < 10; i++) {
      let b = bytes[i] as number;
      while (b >= 252) b = randomInt(252);
      id += alphabet[b % 36];
    }
    if (id !== taken) ids.add(id);
  }
  return [...ids].sort();
}

/**
 * An insert for rows shaped like `template`: every column of the template row, in its order.
 * `write(overrides)` inserts the template's values with `overrides` (by column name) applied.
 */
function cloner(db: SqliteDatabase, table: string, template: Row, overridden: readonly string[]) {
  const columns = Object.keys(template);
  for (const c of overridden) {
    if (!columns.includes(c)) throw new Error(`${table} has no column ${c}: the seeder needs updating`);
  }
  const stmt = db.prepare(
    `insert into ${table} (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map(() => '?').join(', ')})`,
  );
  const base = columns.map((c) => template[c]);
  const slots = overridden.map((c) => columns.indexOf(c));
  let count = 0;
  return {
    write(values: readonly unknown[]): void {
      const row = base.slice();
      for (let i = 0; i < slots.length; i++) row[slots[i] as number] = values[i];
      stmt.run(row);
      count++;
    },
    get count() {
      return count;
    },
  };
}

const one = (db: SqliteDatabase, sql: string, ...params: unknown[]): Row => {
  const row = db.prepare(sql).get(...params) as Row | undefined;
  if (!row) throw new Error(`template row missing: ${sql}`);
  return row;
};
const all = (db: SqliteDatabase, sql: string, ...params: unknown[]): Row[] =>
  db.prepare(sql).all(...params) as Row[];

/** Tables whose rows may belong to a machine, part or location, with the column naming it. */
const OWNER_COLUMNS = ['part_id', 'robot_id', 'location_id', 'user_id', 'resource_id'];
const CLONED = new Set([
  'locations',
  'location_secrets',
  'robots',
  'robot_parts',
  'part_secrets',
  'part_history',
  'fragment_uses',
]);

/** Tables (other than those cloned) holding rows that point at the template. */
function uncloned(db: SqliteDatabase, t: FleetTemplate): string[] {
  const ids = [t.locationId, t.robotId, t.partId];
  const out: string[] = [];
  const tables = db
    .prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`)
    .pluck()
    .all() as string[];
  for (const table of tables) {
    if (CLONED.has(table)) continue;
    const columns = (db.prepare(`pragma table_info("${table}")`).all() as { name: string }[]).map(
      (c) => c.name,
    );
    for (const column of columns.filter((c) => OWNER_COLUMNS.includes(c))) {
      const n = db
        .prepare(`select count(*) from "${table}" where "${column}" in (?, ?, ?)`)
        .pluck()
        .get(...ids) as number;
      if (n > 0) out.push(`${table}.${column} (${n} rows)`);
    }
  }
  return out;
}

/**
 * Clones the template (already in the data directory, server stopped) until the fleet has
 * `machines` machines in locations of `perLocation`. Returns what was written and a random
 * sample of `sampleSize` machines plus up to `locationSample` full locations.
 */
export function cloneFleet(
  dataDir: string,
  t: FleetTemplate,
  machines: number,
  options: { perLocation: number; sampleSize: number; locationSample: number; batch?: number },
): SeededFleet {
  const started = performance.now();
  const { perLocation } = options;
  const batch = options.batch ?? 50_000;
  const file = sqliteFileIn(dataDir);
  const db = new SQLite(file);
  try {
    // A bulk load into a file nobody else has open: no WAL copy, no syncs, a big page cache.
    // The journal stays in memory so a failed statement can still roll back.
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    // Every row is a copy of valid rows with fresh ids: the keys are known to hold.
    db.pragma('foreign_keys = OFF');
    db.pragma('cache_size = -524288');
    db.pragma('temp_store = MEMORY');
    db.pragma('locking_mode = EXCLUSIVE');

    const location = one(db, 'select * from locations where id = ?', t.locationId);
    const locationSecrets = all(
      db,
      'select * from location_secrets where location_id = ? order by id',
      t.locationId,
    );
    const robot = one(db, 'select * from robots where id = ?', t.robotId);
    const part = one(db, 'select * from robot_parts where id = ?', t.partId);
    const partSecrets = all(db, 'select * from part_secrets where part_id = ? order by id', t.partId);
    const history = all(db, 'select * from part_history where part_id = ? order by id', t.partId);
    const uses = all(
      db,
      `select * from fragment_uses where user_type = 'part' and user_id = ? order by fragment_id`,
      t.partId,
    );
    if (partSecrets.length === 0 || locationSecrets.length === 0)
      throw new Error('the template has no secrets');
    const notCloned = uncloned(db, t);

    let mark = performance.now();
    const lap = () => {
      const now = performance.now();
      const ms = now - mark;
      mark = now;
      return ms;
    };
    const locations = Math.ceil(machines / perLocation);
    const newLocationIds = sortedLocationIds(locations - 1, t.locationId);
    const locationIdOf = (l: number) => (l === 0 ? t.locationId : (newLocationIds[l - 1] as string));
    const clones = machines - 1;
    const robotIds = sortedUuids(clones);
    const partIds = sortedUuids(clones);
    const partSecretIds = sortedUuids(clones * partSecrets.length);
    const historyIds = sortedUuids(clones * history.length);
    const locationSecretIds = sortedUuids((locations - 1) * locationSecrets.length);
    // Clones are a little older than the template, one millisecond apart, in id order.
    const createdBase = Date.parse(String(robot.created_at)) - machines;
    const partUpdatedAfter = Date.parse(String(part.updated_at)) - Date.parse(String(part.created_at));

    const idsMs = lap();
    const writeLocation = cloner(db, 'locations', location, ['id', 'name', 'created_at']);
    const writeLocationSecret = cloner(db, 'location_secrets', locationSecrets[0] as Row, [
      'id',
      'location_id',
      'secret_ciphertext',
      'created_at',
    ]);
    const writeRobot = cloner(db, 'robots', robot, ['id', 'location_id', 'name', 'created_at']);
    const writePart = cloner(db, 'robot_parts', part, [
      'id',
      'robot_id',
      'location_id',
      'name',
      'dns_name',
      'created_at',
      'updated_at',
    ]);
    const writePartSecret = cloner(db, 'part_secrets', partSecrets[0] as Row, [
      'id',
      'part_id',
      'secret_ciphertext',
      'created_at',
    ]);
    const writeHistory = history[0]
      ? cloner(db, 'part_history', history[0], [
          'id',
          'part_id',
          'robot_id',
          'old_part',
          'edited_at',
          'editor_type',
          'editor_id',
        ])
      : undefined;
    const writeUse = uses[0]
      ? cloner(db, 'fragment_uses', uses[0], ['user_id', 'fragment_id', 'version', 'user_type'])
      : undefined;
    const oldParts = history.map((h) => JSON.parse(String(h.old_part)) as Row);

    const insertLocations = db.transaction(() => {
      for (let l = 1; l < locations; l++) {
        const id = locationIdOf(l);
        const createdAt = new Date(createdBase + l * perLocation - 1).toISOString();
        writeLocation.write([id, locationName(l), createdAt]);
        locationSecrets.forEach((s, j) =>
          writeLocationSecret.write([
            locationSecretIds[(l - 1) * locationSecrets.length + j],
            id,
            s.secret_ciphertext,
            createdAt,
          ]),
        );
      }
    });
    insertLocations();

    const insertMachines = db.transaction((from: number, to: number) => {
      for (let k = from; k < to; k++) {
        const c = k - 1;
        const locationId = locationIdOf(Math.floor(k / perLocation));
        const robotId = robotIds[c] as string;
        const partId = partIds[c] as string;
        const name = machineName(k);
        const partName = `${name}-main`;
        const dnsName = dnsNameOf(partName);
        const created = createdBase + k;
        const createdAt = new Date(created).toISOString();
        const updatedAt = new Date(created + partUpdatedAfter).toISOString();
        writeRobot.write([robotId, locationId, name, createdAt]);
        writePart.write([partId, robotId, locationId, partName, dnsName, createdAt, updatedAt]);
        partSecrets.forEach((s, j) =>
          writePartSecret.write([
            partSecretIds[c * partSecrets.length + j],
            partId,
            s.secret_ciphertext,
            createdAt,
          ]),
        );
        history.forEach((h, j) => {
          const old = {
            ...oldParts[j],
            id: partId,
            robot_id: robotId,
            location_id: locationId,
            name: partName,
            dns_name: dnsName,
            created_at: createdAt,
            updated_at: createdAt,
          };
          writeHistory?.write([
            historyIds[c * history.length + j],
            partId,
            robotId,
            JSON.stringify(old),
            updatedAt,
            h.editor_type,
            h.editor_id,
          ]);
        });
        for (const u of uses) writeUse?.write([partId, u.fragment_id, u.version, u.user_type]);
      }
    });
    for (let k = 1; k < machines; k += batch) insertMachines(k, Math.min(machines, k + batch));

    const insertsMs = lap();
    // Back to what the server expects to find: a WAL database.
    db.pragma('locking_mode = NORMAL');
    db.pragma('journal_mode = WAL');
    db.pragma('wal_checkpoint(TRUNCATE)');
    const walMs = lap();

    const count = (table: string) => db.prepare(`select count(*) from "${table}"`).pluck().get() as number;
    const rowsAfter = Object.fromEntries([...CLONED].map((table) => [table, count(table)]));
    const countMs = lap();
    const rowsWritten: Record<string, number> = {
      locations: writeLocation.count,
      location_secrets: writeLocationSecret.count,
      robots: writeRobot.count,
      robot_parts: writePart.count,
      part_secrets: writePartSecret.count,
      part_history: writeHistory?.count ?? 0,
      fragment_uses: writeUse?.count ?? 0,
    };

    // The sample: distinct machine numbers drawn at random (a partial Fisher-Yates shuffle).
    const size = Math.min(options.sampleSize, machines);
    const picked = new Map<number, number>();
    const sample: SampledPart[] = [];
    for (let i = 0; i < size; i++) {
      const j = i + randomInt(machines - i);
      const k = picked.get(j) ?? j;
      picked.set(j, picked.get(i) ?? i);
      sample.push({ id: k === 0 ? t.partId : (partIds[k - 1] as string), host: machineName(k) });
    }
    const fullCount = Math.floor(machines / perLocation);
    const fullLocations: string[] = [];
    const seen = new Set<number>();
    while (fullLocations.length < Math.min(options.locationSample, fullCount)) {
      const l = randomInt(fullCount);
      if (seen.has(l)) continue;
      seen.add(l);
      fullLocations.push(locationIdOf(l));
    }
    return {
      report: {
        machines,
        locations,
        perLocation,
        rowsWritten,
        rowsAfter,
        notCloned,
        templateMs: t.apiMs,
        cloneMs: performance.now() - started,
        phasesMs: { ids: idsMs, inserts: insertsMs, wal: walMs, count: countMs },
        dbBytes: statSync(file).size,
      },
      sample,
      fullLocations,
    };
  } finally {
    db.close();
  }
}

/**
 * Checks the seeded fleet through the restarted server's API: `parts` sampled machines log in
 * with the template's secret and are served their own merged config (all fragment levels and
 * their own component); the owner reads each part and lists a full location. Throws on the first
 * thing that does not hold; returns how long it took, ms.
 */
export async function verifyFleet(
  url: string,
  owner: { apiKeyId: string; apiKey: string },
  t: FleetTemplate,
  fleet: SeededFleet,
  parts: number,
): Promise<number> {
  const started = performance.now();
  const sessions = new Http2SessionManager(url);
  try {
    const transport = createGrpcTransport({ baseUrl: url, httpVersion: '2', sessionManager: sessions });
    const auth = createPromiseClient(AuthService, transport);
    const app = createPromiseClient(AppService, transport);
    const robot = createPromiseClient(RobotService, transport);
    const { accessToken } = await auth.authenticate({
      entity: owner.apiKeyId,
      credentials: { type: 'api-key', payload: owner.apiKey },
    });
    const headers = { authorization: `Bearer ${accessToken}` };
    for (const p of fleet.sample.slice(0, parts)) {
      const { accessToken: token } = await auth.authenticate({
        entity: p.id,
        credentials: { type: 'robot-secret', payload: t.secret },
      });
      const { config } = await robot.config({ id: p.id }, { headers: { authorization: `Bearer ${token}` } });
      const problem = servedConfigProblem(config, p.id, t.served);
      if (problem) throw new Error(`machine ${p.host}: ${problem}`);
      const { part } = await app.getRobotPart({ id: p.id }, { headers });
      if (part?.id !== p.id || part.name !== `${p.host}-main`)
        throw new Error(`GetRobotPart ${p.id}: wrong part`);
    }
    const locationId = fleet.fullLocations[0];
    if (locationId) {
      const { robots } = await app.listRobots({ locationId }, { headers });
      if (robots.length !== fleet.report.perLocation || robots.some((r) => r.location !== locationId)) {
        throw new Error(
          `ListRobots ${locationId}: ${robots.length} machines, expected ${fleet.report.perLocation}`,
        );
      }
    }
    return performance.now() - started;
  } finally {
    sessions.abort();
  }
}
