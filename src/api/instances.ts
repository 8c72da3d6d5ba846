/**
 * Wire schemas of the instance endpoints. The daemon validates every body with these and the
 * OpenAPI document is generated from them; the client and CLI use the static types.
 */
import Type, { type Static } from 'typebox';
import { Name } from './common.js';

const Size = Type.Union([Type.Integer({ minimum: 1 }), Type.String({ minLength: 1 })], {
  description: 'bytes, or a size such as 64MiB or 1GiB',
});

export const LimitsInput = Type.Object(
  {
    cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1024 })),
    memory: Type.Optional(Size),
    pids: Type.Optional(Type.Integer({ minimum: 1 })),
    disk: Type.Optional(Size),
  },
  { additionalProperties: false },
);
export type LimitsInput = Static<typeof LimitsInput>;

export const PortInput = Type.Object(
  {
    hostPort: Type.Integer({ minimum: 1, maximum: 65535 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    protocol: Type.Optional(Type.Union([Type.Literal('tcp'), Type.Literal('udp')])),
  },
  { additionalProperties: false },
);

export const VolumeInput = Type.Object(
  {
    source: Type.String({ minLength: 1, description: 'a volume name or an absolute host path' }),
    target: Type.String({ minLength: 1, pattern: '^/' }),
    readOnly: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const InstanceType = Type.Union([
  Type.Literal('container'),
  Type.Literal('vm'),
  Type.Literal('sandbox'),
]);
export const InstanceStatus = Type.Union([
  Type.Literal('created'),
  Type.Literal('starting'),
  Type.Literal('running'),
  Type.Literal('paused'),
  Type.Literal('stopping'),
  Type.Literal('stopped'),
  Type.Literal('error'),
]);

export const CreateInstanceRequest = Type.Object(
  {
    name: Name,
    image: Type.String({ minLength: 1 }),
    type: Type.Optional(InstanceType),
    start: Type.Optional(Type.Boolean({ description: 'start after creating (launch)' })),
    command: Type.Optional(Type.Array(Type.String())),
    entrypoint: Type.Optional(Type.Array(Type.String())),
    env: Type.Optional(Type.Record(Type.String({ pattern: '^[^=]+$' }), Type.String())),
    user: Type.Optional(Type.String({ minLength: 1 })),
    workdir: Type.Optional(Type.String({ pattern: '^/' })),
    hostname: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$' })),
    tty: Type.Optional(Type.Boolean()),
    stdin: Type.Optional(Type.Boolean()),
    attach: Type.Optional(
      Type.Boolean({
        description:
          'a client attaches right after the start (a foreground run): the output and exit status wait for it a few seconds after the workload ends',
      }),
    ),
    limits: Type.Optional(LimitsInput),
    ports: Type.Optional(Type.Array(PortInput)),
    volumes: Type.Optional(Type.Array(VolumeInput)),
    network: Type.Optional(Type.Union([Type.Literal('bridge'), Type.Literal('none'), Type.Literal('host')])),
    capAdd: Type.Optional(Type.Array(Type.String())),
    capDrop: Type.Optional(Type.Array(Type.String())),
    privileged: Type.Optional(Type.Boolean()),
    readOnly: Type.Optional(Type.Boolean()),
    userns: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('host')])),
    restart: Type.Optional(
      Type.Union([Type.Literal('no'), Type.Literal('on-failure'), Type.Literal('always')]),
    ),
    init: Type.Optional(Type.Literal('system')),
    autoRemove: Type.Optional(Type.Boolean({ description: 'delete the instance when its workload ends' })),
    node: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type CreateInstanceRequest = Static<typeof CreateInstanceRequest>;

export const StateRequest = Type.Object(
  {
    action: Type.Union([
      Type.Literal('start'),
      Type.Literal('stop'),
      Type.Literal('restart'),
      Type.Literal('pause'),
      Type.Literal('resume'),
      Type.Literal('kill'),
    ]),
    timeout: Type.Optional(Type.Number({ minimum: 0, description: 'seconds before stop kills' })),
    force: Type.Optional(Type.Boolean()),
    signal: Type.Optional(Type.String({ pattern: '^(SIG)?[A-Z0-9]+$|^[0-9]+$' })),
  },
  { additionalProperties: false },
);
export type StateRequest = Static<typeof StateRequest>;

export const PatchInstanceRequest = Type.Object({ limits: LimitsInput }, { additionalProperties: false });
export type PatchInstanceRequest = Static<typeof PatchInstanceRequest>;

export const Instance = Type.Object({
  name: Type.String(),
  type: InstanceType,
  status: InstanceStatus,
  statusReason: Type.String(),
  image: Type.String(),
  node: Type.String(),
  accel: Type.Union([Type.Literal('kvm'), Type.Literal('tcg'), Type.Null()]),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Type.String(),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  limits: Type.Object({
    cpus: Type.Union([Type.Number(), Type.Null()]),
    memoryBytes: Type.Union([Type.Integer(), Type.Null()]),
    pids: Type.Union([Type.Integer(), Type.Null()]),
    diskBytes: Type.Union([Type.Integer(), Type.Null()]),
  }),
  addresses: Type.Array(Type.String()),
  ports: Type.Array(Type.Object({ hostPort: Type.Integer(), port: Type.Integer(), protocol: Type.String() })),
  volumes: Type.Array(
    Type.Object({ source: Type.String(), target: Type.String(), readOnly: Type.Boolean() }),
  ),
  security: Type.Object({
    capAdd: Type.Array(Type.String()),
    capDrop: Type.Array(Type.String()),
    privileged: Type.Boolean(),
    readOnly: Type.Boolean(),
    userns: Type.String(),
  }),
  command: Type.Array(Type.String()),
  env: Type.Record(Type.String(), Type.String()),
  restart: Type.String(),
  restartCount: Type.Integer(),
  autoRemove: Type.Boolean(),
});
export type Instance = Static<typeof Instance>;

export const ExecRequest = Type.Object(
  {
    command: Type.Array(Type.String(), { minItems: 1 }),
    env: Type.Optional(Type.Record(Type.String({ pattern: '^[^=]+$' }), Type.String())),
    user: Type.Optional(Type.String({ minLength: 1 })),
    workdir: Type.Optional(Type.String({ pattern: '^/' })),
    tty: Type.Optional(Type.Boolean()),
    stdin: Type.Optional(Type.Boolean()),
    cols: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
    rows: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000 })),
  },
  { additionalProperties: false },
);
export type ExecRequest = Static<typeof ExecRequest>;

export const ExecResult = Type.Object({
  exitCode: Type.Integer(),
  stdout: Type.String(),
  stderr: Type.String(),
});
export type ExecResult = Static<typeof ExecResult>;

export const LogsQuery = Type.Object({
  follow: Type.Optional(Type.Boolean()),
  tail: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const ResourceUsage = Type.Object({
  name: Type.String(),
  time: Type.String(),
  cpuSeconds: Type.Number(),
  memoryBytes: Type.Number(),
  memoryPeakBytes: Type.Optional(Type.Number()),
  memoryLimitBytes: Type.Optional(Type.Number()),
  pids: Type.Optional(Type.Number()),
  blockReadBytes: Type.Optional(Type.Number()),
  blockWriteBytes: Type.Optional(Type.Number()),
  netRxBytes: Type.Optional(Type.Number()),
  netTxBytes: Type.Optional(Type.Number()),
});
export type ResourceUsage = Static<typeof ResourceUsage>;
