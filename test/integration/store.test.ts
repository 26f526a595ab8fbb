import { openEmbeddedStore } from '../../src/infrastructure/persistence/embedded-store.js';
import { storeContract } from '../contracts/store.contract.js';

storeContract('embedded (PGlite in memory)', () => openEmbeddedStore(undefined, { relayEvents: true }));
