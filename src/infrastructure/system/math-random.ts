import type { RandomSource } from '../../application/ports.js';

export const mathRandom: RandomSource = { next: () => Math.random() };
