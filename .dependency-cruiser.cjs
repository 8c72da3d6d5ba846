/**
 * The layer table of DESIGN.md, enforced. Dependencies point one way:
 *   cli, ui ──► client ──► api ──► base
 *   daemon ──► core ──► base   (only daemon/compose.ts picks implementations)
 *   drivers/*, images, network, stores/*, scheduler, monitoring, cluster ──► core, base
 * Each exception carries its reason.
 */
const IMPL = '^src/(drivers|images|network|stores|scheduler|monitoring|cluster)/';
module.exports = {
  forbidden: [
    {
      name: 'base-imports-nothing',
      comment: 'base/ is the bottom layer: it imports nothing of ours',
      severity: 'error',
      from: { path: '^src/base/' },
      to: { path: '^src/', pathNot: '^src/base/' },
    },
    {
      name: 'api-is-wire-only',
      comment: 'api/ holds wire types and schemas; it may use base only',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/', pathNot: '^src/(api|base)/' },
    },
    {
      name: 'core-is-domain-only',
      comment: 'core/ is the domain: base and itself only, no implementations, no I/O layers',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/(core|base)/' },
    },
    {
      name: 'implementations-use-core-and-base',
      comment: 'implementations depend on core and base, never on the daemon, client, cli or api',
      severity: 'error',
      from: { path: IMPL },
      to: { path: '^src/(daemon|client|cli|api|ui)/' },
    },
    {
      name: 'implementations-stay-apart',
      comment:
        'implementations do not import each other (the unit is a top-level folder, or a subfolder of drivers/ and stores/); exceptions: the sandbox driver is built on the vm driver (shared QEMU/agent code), drivers share drivers/common, and the conformance suites are shared',
      severity: 'error',
      from: { path: '^src/(images|network|scheduler|monitoring|cluster)/', pathNot: '\\.test\\.ts$' },
      to: { path: IMPL, pathNot: '^src/$1/' },
    },
    {
      name: 'drivers-and-stores-stay-apart',
      comment: 'each driver and each store is its own unit (see implementations-stay-apart)',
      severity: 'error',
      from: { path: '^src/(drivers|stores)/([^/]+)/', pathNot: '\\.test\\.ts$' },
      to: {
        path: IMPL,
        pathNot: [
          '^src/$1/$2/',
          '^src/drivers/common/',
          '^src/drivers/vm/',
          '^src/drivers/conformance\\.ts$',
          '^src/stores/conformance\\.ts$',
        ],
      },
    },
    {
      name: 'sandbox-may-use-vm-only',
      comment: 'of the other drivers, only drivers/sandbox may use drivers/vm',
      severity: 'error',
      from: { path: '^src/drivers/(container|vm|fake)/' },
      to: { path: '^src/drivers/(container|vm|sandbox|fake)/', pathNot: '^src/drivers/$1/' },
    },
    {
      name: 'only-compose-picks-implementations',
      comment: 'daemon/compose.ts is the one file that picks implementations',
      severity: 'error',
      from: { path: '^src/daemon/', pathNot: '^src/daemon/compose\\.ts$|\\.test\\.ts$' },
      to: { path: IMPL },
    },
    {
      name: 'daemon-does-not-use-clients',
      comment: 'the daemon serves the API; it never imports the client, cli or ui',
      severity: 'error',
      from: { path: '^src/daemon/' },
      to: { path: '^src/(client|cli|ui)/' },
    },
    {
      name: 'client-uses-api-and-base',
      comment: 'client/ speaks the wire: api and base only',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|api|base)/' },
    },
    {
      name: 'cli-and-ui-reach-daemon-through-client',
      comment:
        'cli/ and ui/ reach the daemon only through client/ (bin/tandem dispatches the daemon verb); exception: `schedule simulate` is offline computation that needs no daemon, so its command may use the scheduler',
      severity: 'error',
      from: { path: '^src/(cli|ui)/', pathNot: '^src/cli/commands/schedule\\.ts$' },
      to: { path: '^src/', pathNot: '^src/(cli|ui|client|api|base)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
