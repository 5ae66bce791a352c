/**
 * Frames of components and remotes (`parent`, `translation`, `orientation`, `geometry`) in
 * viam-server's JSON, converted to viam.app.v1.Frame in protobuf JSON form.
 */
import {
  child,
  fail,
  get,
  num,
  object,
  put,
  requiredStr,
  section,
  str,
  type JsonObject,
  type ProtoJson,
} from './json.js';
import { protoOrientation, readOrientation, toOrientationVectorDegrees, vector } from './orientation.js';

/** A frame: its parent is required; translation defaults to 0, orientation to none. */
export function frame(item: JsonObject, path: string): ProtoJson {
  const out: ProtoJson = { parent: requiredStr(item, 'parent', path) };
  const translation = object(item, 'translation', path) ?? {};
  out.translation = vector(translation, child(path, 'translation'));
  const orientation = object(item, 'orientation', path);
  if (orientation !== undefined) {
    out.orientation = protoOrientation(readOrientation(orientation, child(path, 'orientation')));
  }
  put(out, 'geometry', section(item, 'geometry', path, geometry));
  return out;
}

const GEOMETRY_TYPES = ['box', 'sphere', 'capsule', 'point', 'mesh'];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A frame geometry as common.v1.Geometry: center pose, one shape, label. */
function geometry(item: JsonObject, path: string): ProtoJson {
  const translation = object(item, 'translation', path) ?? {};
  const orientation = object(item, 'orientation', path);
  const ov = toOrientationVectorDegrees(
    orientation === undefined ? { kind: 'none' } : readOrientation(orientation, child(path, 'orientation')),
  );
  const out: ProtoJson = { center: { ...vector(translation, child(path, 'translation')), ...ov } };
  const label = str(item, 'label', path) ?? str(item, 'Label', path);
  put(out, 'label', label);

  const dims = vector(item, path);
  const r = num(item, 'r', path);
  const l = num(item, 'l', path);
  const positive = (key: string, value: number) => {
    if (!(value > 0)) fail(child(path, key), 'must be a positive number');
  };
  let type = str(item, 'type', path) ?? '';
  if (type === '') {
    // No type: infer it from the dimensions given, as viam-server does (never a point).
    if (dims.x !== 0 || dims.y !== 0 || dims.z !== 0) type = 'box';
    else if (l !== 0) type = 'capsule';
    else if (r > 0) type = 'sphere';
    else fail(child(path, 'type'), `must be one of ${GEOMETRY_TYPES.join(', ')}`);
  }
  switch (type) {
    case 'box':
      positive('x', dims.x);
      positive('y', dims.y);
      positive('z', dims.z);
      out.box = { dimsMm: dims };
      break;
    case 'sphere':
      positive('r', r);
      out.sphere = { radiusMm: r };
      break;
    case 'capsule':
      positive('r', r);
      positive('l', l);
      out.capsule = { radiusMm: r, lengthMm: l };
      break;
    case 'point':
      out.sphere = { radiusMm: 0 };
      break;
    case 'mesh': {
      const data = get(item, 'mesh_data');
      if (typeof data !== 'string' || data === '' || !BASE64.test(data)) {
        fail(child(path, 'mesh_data'), 'must be the mesh file as a non-empty base64 string');
      }
      out.mesh = { contentType: str(item, 'mesh_content_type', path) ?? '', mesh: data };
      break;
    }
    default:
      fail(child(path, 'type'), `must be one of ${GEOMETRY_TYPES.join(', ')}`);
  }
  return out;
}
