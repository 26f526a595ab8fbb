// Idle memory of one mesh in a fresh process: started, bootstrapped, quiet for 2 s.
import { startBenchMesh } from './e2e.mjs';

const before = process.memoryUsage().rss;
const mesh = await startBenchMesh();
await new Promise((r) => setTimeout(r, 2000));
const m = process.memoryUsage();
console.log(JSON.stringify({ nodeRssMb: before / 1048576, meshRssMb: m.rss / 1048576, heapUsedMb: m.heapUsed / 1048576, externalMb: m.external / 1048576 }));
await mesh.close();
process.exit(0);
