// Every metadata field of a file as a definition list: the columns first (labelled, in units
// a person reads), then the extra metadata as read (EXIF tags, container details). A field
// may be shown as a control instead (the campaign's select, for an editor).

import { bytes, el, seconds, when } from "./util.js";

const num = (digits) => (v) => Number(v).toFixed(digits);
const FIELDS = [
  ["path", "Path"],
  ["kind", "Kind"],
  ["campaign", "Campaign", (v, file) => (file.campaign_corrected ? `${v} (corrected)` : v)],
  ["platform", "Platform"],
  ["sensor", "Sensor"],
  ["format", "Format"],
  ["status", "Status"],
  ["error", "Error"],
  ["size", "Size", bytes],
  ["width", "Width", (v) => `${v} px`],
  ["height", "Height", (v) => `${v} px`],
  ["mode", "Mode"],
  ["bit_depth", "Bit depth"],
  ["pages", "Pages"],
  ["taken_at", "Taken", when],
  ["camera_make", "Camera make"],
  ["camera_model", "Camera model"],
  ["lens", "Lens"],
  ["exposure_time", "Exposure", (v) => (v < 1 ? `1/${Math.round(1 / v)} s` : `${v} s`)],
  ["f_number", "f-number", (v) => `f/${v}`],
  ["iso", "ISO"],
  ["focal_length", "Focal length", (v) => `${v} mm`],
  ["orientation", "Orientation"],
  ["latitude", "Latitude", num(6)],
  ["longitude", "Longitude", num(6)],
  ["altitude", "Altitude", (v) => `${num(1)(v)} m`],
  ["container", "Container"],
  ["codec", "Codec"],
  ["duration_s", "Duration", seconds],
  ["fps", "Frame rate", (v) => `${num(2)(v)} fps`],
  ["rotation", "Rotation", (v) => `${v}°`],
  ["model_context", "Model's context"],
  ["model_version", "Model version"],
  ["sha256", "SHA-256"],
  ["first_seen", "First seen", when],
  ["last_processed", "Processed", when],
  ["attempts", "Attempts"],
];

function rows(pairs) {
  return pairs.flatMap(([label, value]) => [el("dt", {}, label), el("dd", {}, value)]);
}

function flat(value, prefix = "") {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return [[prefix, Array.isArray(value) ? value.join(", ") : String(value)]];
  }
  return Object.entries(value).flatMap(([key, inner]) =>
    flat(inner, prefix ? `${prefix}.${key}` : key),
  );
}

const given = (value) => value !== null && value !== undefined && value !== "";

/** The metadata section of the detail view; `controls`: a node per field shown instead of its
 * value (shown even where the value is empty). */
export function metadata(file, controls = {}) {
  const known = FIELDS.filter(([key]) => controls[key] || given(file[key])).map(
    ([key, label, format]) => [
      label,
      controls[key] ?? (format ? format(file[key], file) : String(file[key])),
    ],
  );
  const extra = file.extra ? flat(file.extra) : [];
  return el(
    "section",
    { class: "meta" },
    el("h3", {}, "Metadata"),
    el("dl", { id: "metadata" }, ...rows(known)),
    extra.length
      ? el("details", {}, el("summary", {}, `More (${extra.length})`), el("dl", {}, ...rows(extra)))
      : null,
  );
}
