/** Imports one archive into a fresh image store under ROOT and prints the milliseconds: `import.ts ARCHIVE ROOT`. */
import { LocalImageStore } from '../../src/images/image-store.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';

const [archive, root] = process.argv.slice(2);
const images = new LocalImageStore({ root, store: new MemoryStore() });
await images.recover();
const t0 = performance.now();
await images.import('bench', archive);
console.log(Math.round(performance.now() - t0));
