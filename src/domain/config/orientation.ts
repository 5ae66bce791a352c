/**
 * Orientations as viam-server's config writes them (`{"type": "ov_degrees", "value": {...}}`):
 * reading them, their viam.app.v1.Orientation proto form, and the conversion of any of them to
 * the orientation vector in degrees that common.v1.Pose carries.
 */
import { child, fail, get, isObject, num, str, type JsonObject, type ProtoJson } from './json.js';

export type Vector = { x: number; y: number; z: number };

type OvDegrees = { kind: 'ov_degrees'; th: number; x: number; y: number; z: number };
type OvRadians = { kind: 'ov_radians'; th: number; x: number; y: number; z: number };
type AxisAngles = { kind: 'axis_angles'; th: number; x: number; y: number; z: number };
type EulerAngles = { kind: 'euler_angles'; roll: number; pitch: number; yaw: number };
type QuaternionOrientation = { kind: 'quaternion'; w: number; x: number; y: number; z: number };
export type Orientation =
  { kind: 'none' } | OvDegrees | OvRadians | AxisAngles | EulerAngles | QuaternionOrientation;

/** `{x, y, z}`, each a number; absent members are 0. */
export function vector(item: JsonObject, path: string): Vector {
  return { x: num(item, 'x', path), y: num(item, 'y', path), z: num(item, 'z', path) };
}

const ORIENTATION_TYPES = ['ov_degrees', 'ov_radians', 'euler_angles', 'axis_angles', 'quaternion'];

/** An orientation object (`type` and `value`); no type means no orientation. */
export function readOrientation(item: JsonObject, path: string): Orientation {
  const kind = str(item, 'type', path) ?? '';
  if (kind === '') return { kind: 'none' };
  const valuePath = child(path, 'value');
  const value = get(item, 'value');
  if (!isObject(value)) fail(valuePath, 'must be an object');
  switch (kind) {
    case 'ov_degrees':
    case 'ov_radians':
    case 'axis_angles': {
      const { x, y, z } = vector(value, valuePath);
      if (x === 0 && y === 0 && z === 0) fail(valuePath, 'x, y and z must not all be 0');
      const th = num(value, 'th', valuePath);
      return { kind, th, x, y, z };
    }
    case 'euler_angles':
      return {
        kind,
        roll: num(value, 'roll', valuePath),
        pitch: num(value, 'pitch', valuePath),
        yaw: num(value, 'yaw', valuePath),
      };
    case 'quaternion': {
      // viam-server reads W/X/Y/Z case-insensitively; both spellings are accepted.
      const part = (k: string) => num(value, get(value, k) === undefined ? k.toUpperCase() : k, valuePath);
      const q = { kind, w: part('w'), x: part('x'), y: part('y'), z: part('z') } as const;
      if (q.w === 0 && q.x === 0 && q.y === 0 && q.z === 0)
        fail(valuePath, 'w, x, y and z must not all be 0');
      return q;
    }
    default:
      return fail(child(path, 'type'), `must be one of ${ORIENTATION_TYPES.join(', ')}`);
  }
}

/** The viam.app.v1.Orientation oneof in protobuf JSON form. */
export function protoOrientation(o: Orientation): ProtoJson {
  switch (o.kind) {
    case 'none':
      return { noOrientation: {} };
    case 'ov_degrees':
      return { vectorDegrees: { theta: o.th, x: o.x, y: o.y, z: o.z } };
    case 'ov_radians':
      return { vectorRadians: { theta: o.th, x: o.x, y: o.y, z: o.z } };
    case 'axis_angles':
      return { axisAngles: { theta: o.th, x: o.x, y: o.y, z: o.z } };
    case 'euler_angles':
      return { eulerAngles: { roll: o.roll, pitch: o.pitch, yaw: o.yaw } };
    case 'quaternion':
      return { quaternion: { w: o.w, x: o.x, y: o.y, z: o.z } };
  }
}

type Quaternion = [w: number, x: number, y: number, z: number];

/** Unit quaternion of an orientation (Hamilton convention, active rotation). */
function toQuaternion(o: AxisAngles | EulerAngles | QuaternionOrientation): Quaternion {
  let q: Quaternion;
  if (o.kind === 'quaternion') {
    q = [o.w, o.x, o.y, o.z];
  } else if (o.kind === 'axis_angles') {
    const norm = Math.hypot(o.x, o.y, o.z);
    const s = Math.sin(o.th / 2);
    q = [Math.cos(o.th / 2), (s * o.x) / norm, (s * o.y) / norm, (s * o.z) / norm];
  } else {
    // Tait-Bryan z-y'-x'': yaw about Z, then pitch about Y, then roll about X (radians).
    const [cr, sr] = [Math.cos(o.roll / 2), Math.sin(o.roll / 2)];
    const [cp, sp] = [Math.cos(o.pitch / 2), Math.sin(o.pitch / 2)];
    const [cy, sy] = [Math.cos(o.yaw / 2), Math.sin(o.yaw / 2)];
    q = [
      cr * cp * cy + sr * sp * sy,
      sr * cp * cy - cr * sp * sy,
      cr * sp * cy + sr * cp * sy,
      cr * cp * sy - sr * sp * cy,
    ];
  }
  const norm = Math.hypot(...q);
  return [q[0] / norm, q[1] / norm, q[2] / norm, q[3] / norm];
}

const POLE_EPSILON = 1e-9;
const DEGREES = 180 / Math.PI;

/**
 * An orientation as an orientation vector in degrees, the form of common.v1.Pose. The OV is the
 * direction of the rotated Z axis plus a rotation theta about it, i.e. the Z-Y-Z Euler
 * decomposition R = Rz(lon)·Ry(lat)·Rz(theta) with (ox, oy, oz) the third column of R; at the
 * poles lon is taken as 0, as viam-server does.
 */
export function toOrientationVectorDegrees(o: Orientation): {
  oX: number;
  oY: number;
  oZ: number;
  theta: number;
} {
  if (o.kind === 'none') return { oX: 0, oY: 0, oZ: 1, theta: 0 };
  if (o.kind === 'ov_degrees') return { oX: o.x, oY: o.y, oZ: o.z, theta: o.th };
  if (o.kind === 'ov_radians') return { oX: o.x, oY: o.y, oZ: o.z, theta: o.th * DEGREES };
  const [w, x, y, z] = toQuaternion(o);
  const r00 = 1 - 2 * (y * y + z * z);
  const r10 = 2 * (x * y + w * z);
  const r11 = 1 - 2 * (x * x + z * z);
  const r02 = 2 * (x * z + w * y);
  const r12 = 2 * (y * z - w * x);
  const r20 = 2 * (x * z - w * y);
  const r21 = 2 * (y * z + w * x);
  const r22 = 1 - 2 * (x * x + y * y);
  let theta: number;
  if (1 - Math.abs(r22) > POLE_EPSILON) theta = Math.atan2(r21, -r20);
  else if (r22 > 0) theta = Math.atan2(r10, r00);
  else theta = Math.atan2(r10, r11);
  return { oX: r02, oY: r12, oZ: r22, theta: theta * DEGREES };
}
