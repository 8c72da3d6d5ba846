/**
 * Images as the rest of Tandem sees them: a name, a content digest, unpacked layers shared
 * between images, and the config defaults (Entrypoint, Cmd, Env, ...). One image serves
 * containers, sandboxes and VMs, so nothing here is specific to a runtime.
 */

export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env: string[];
  workingDir?: string;
  user?: string;
  exposedPorts: string[];
  labels: Record<string, string>;
}

export interface ImageLayer {
  /** Digest of the compressed blob as stored in the archive. */
  digest: string;
  /** Digest of the uncompressed tar (the OCI diff id): the key of the unpacked layer. */
  diffId: string;
  size: number;
}

export interface Image {
  name: string;
  /** Digest of the manifest (or of the synthesized manifest for rootfs tarballs). */
  digest: string;
  /** Unpacked size on disk, bytes. */
  size: number;
  layers: ImageLayer[];
  config: ImageConfig;
  createdAt: string;
  /** Where it came from: 'rootfs-tar', 'oci-layout', 'oci-archive', 'docker-archive', 'build:busybox', ... */
  source: string;
}

export interface ImportProgress {
  /** What is happening now, e.g. 'layer 2/3'. */
  step: string;
  done: number;
  total?: number;
  unit: 'bytes' | 'steps';
}

export interface ImportOptions {
  onProgress?: (p: ImportProgress) => void;
  signal?: AbortSignal;
}

export interface BuildOptions extends ImportOptions {
  from: 'busybox' | 'debian:bookworm';
  packages?: string[];
}

export interface ImageStore {
  /** Imports a rootfs tar(.gz), OCI layout dir, OCI archive or docker-archive; leaves nothing when it fails. */
  import(name: string, path: string, opts?: ImportOptions): Promise<Image>;
  /** Builds an image locally from Debian packages; leaves nothing when it fails. */
  build(name: string, opts: BuildOptions): Promise<Image>;
  /** The image, or undefined when there is none by that name. */
  get(name: string): Promise<Image | undefined>;
  list(): Promise<Image[]>;
  /** Removes the image and garbage-collects layers nothing references; not_found when missing. */
  remove(name: string): Promise<void>;
  /** Absolute paths of the unpacked layer directories, bottom first; not_found when missing. */
  layerPaths(name: string): Promise<string[]>;
}
