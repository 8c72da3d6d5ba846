/**
 * exec in a running container: one `crun exec --process FILE` with the container's identity,
 * capabilities and no-new-privileges (the seccomp profile comes from the container). Without a
 * TTY the streams are crun's own pipes (stdin EOF reaches the process; without stdin it reads
 * /dev/null). With a TTY, crun hands the pty master over a console socket, which Node cannot
 * receive: the monitor's `tty-exec` mode receives it and relays it over stdio, taking resize
 * lines on fd 3. Signals go to crun, which forwards them to the process.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { DriverSpec, ExecRequest, ExecSession } from '../../core/driver.js';
import { execSessionFromChild } from '../common/exec-session.js';
import type { ResolvedUser } from '../common/rootfs-lookup.js';
import { type InstancePaths, socketPath } from './container-paths.js';
import { buildExecProcess } from './oci-config.js';

export interface ExecLaunch {
  crunPath: string;
  crunRoot: string;
  monitorPath: string;
  paths: InstancePaths;
  spec: DriverSpec;
  req: ExecRequest;
  user: ResolvedUser;
}

/** Starts the command; the session's exit is the command's status (128+N by signal N). */
export async function startExec(l: ExecLaunch): Promise<ExecSession> {
  const tag = randomBytes(6).toString('hex');
  const processFile = join(l.paths.run, `exec-${tag}.json`);
  await writeFile(processFile, JSON.stringify(buildExecProcess(l.spec, l.req, l.user)));
  const crunExec = ['--root', l.crunRoot, 'exec', '--process', processFile];
  const stdin = l.req.stdin ? 'pipe' : 'ignore';
  let session: ExecSession;
  if (!l.req.tty) {
    const child = spawn(l.crunPath, [...crunExec, l.spec.id], { stdio: [stdin, 'pipe', 'pipe'] });
    session = execSessionFromChild(child, null, `exec in instance "${l.spec.name}"`);
  } else {
    const sock = socketPath(join(l.paths.run, `exec-${tag}.sock`));
    const size = ['--cols', String(l.req.cols || 80), '--rows', String(l.req.rows || 24)];
    const args = [
      'tty-exec',
      '--socket',
      sock,
      ...size,
      ...(l.req.stdin ? ['--stdin'] : []),
      '--',
      l.crunPath,
    ];
    args.push(...crunExec, '--console-socket', sock, l.spec.id);
    const child = spawn(l.monitorPath, args, { stdio: [stdin, 'pipe', 'pipe', 'pipe'] });
    session = execSessionFromChild(child, child.stdio[3] as Writable, `exec in instance "${l.spec.name}"`);
  }
  session.exit.finally(() => rm(processFile, { force: true })).catch(() => {});
  return session;
}
