// Moved to src/fs/atomic.ts (one way to write files atomically); kept as an alias for callers.
export { writeFilesAtomic } from '../fs/atomic.js';
