/**
 * OCI image config and manifest documents: reading the runtime defaults out of a config, and
 * writing the config and manifest Tandem synthesizes for rootfs tarballs, docker-archives
 * (which carry no manifest digest) and local builds.
 */
import { createHash } from 'node:crypto';
import type { ImageConfig } from '../core/image.js';
import type { Compression } from './layer-stream.js';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The subset of an OCI image config Tandem reads. */
export interface OciConfig {
  architecture?: string;
  os?: string;
  created?: string;
  config?: {
    Entrypoint?: unknown;
    Cmd?: unknown;
    Env?: unknown;
    WorkingDir?: unknown;
    User?: unknown;
    ExposedPorts?: unknown;
    Labels?: unknown;
  };
  rootfs?: { type?: string; diff_ids?: unknown };
}

/** sha256 digest of bytes, as `sha256:<hex>`. */
export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The runtime defaults of an OCI (or Docker) image config; malformed fields are ignored, absent ones omitted. */
export function toImageConfig(oci: OciConfig): ImageConfig {
  const c = oci.config ?? {};
  const labels: Record<string, string> = {};
  if (c.Labels && typeof c.Labels === 'object') {
    for (const [k, v] of Object.entries(c.Labels)) if (typeof v === 'string') labels[k] = v;
  }
  const out: ImageConfig = {
    env: strings(c.Env) ?? [],
    exposedPorts: c.ExposedPorts && typeof c.ExposedPorts === 'object' ? Object.keys(c.ExposedPorts) : [],
    labels,
  };
  const entrypoint = strings(c.Entrypoint);
  const cmd = strings(c.Cmd);
  if (entrypoint) out.entrypoint = entrypoint;
  if (cmd) out.cmd = cmd;
  if (text(c.WorkingDir)) out.workingDir = text(c.WorkingDir);
  if (text(c.User)) out.user = text(c.User);
  return out;
}

/** The diff ids a config lists, or undefined when it lists none well-formed. */
export function diffIdsOf(oci: OciConfig): string[] | undefined {
  const ids = strings(oci.rootfs?.diff_ids);
  return ids?.every((d) => /^sha256:[0-9a-f]{64}$/.test(d)) ? ids : undefined;
}

/** A config document for layers Tandem made or received without one. */
export function synthesizeConfig(diffIds: string[], defaults: { cmd?: string[]; env?: string[] }): Buffer {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const doc = {
    created: new Date().toISOString(),
    architecture: arch,
    os: 'linux',
    config: { Env: defaults.env ?? [DEFAULT_PATH], ...(defaults.cmd ? { Cmd: defaults.cmd } : {}) },
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  return Buffer.from(JSON.stringify(doc));
}

const LAYER_MEDIA: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

/** An OCI manifest for a config and layers; its sha256 is the image digest. */
export function synthesizeManifest(
  config: Buffer,
  layers: { digest: string; size: number; compression: Compression }[],
): Buffer {
  const doc = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(config),
      size: config.length,
    },
    layers: layers.map((l) => ({ mediaType: LAYER_MEDIA[l.compression], digest: l.digest, size: l.size })),
  };
  return Buffer.from(JSON.stringify(doc));
}
