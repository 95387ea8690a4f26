// Stand-in for the reader's own `Redlock` instance (see your-code.ts), as the README's first
// example builds it. Only type-checked: importing it would connect to these addresses.
import { Redlock } from '../../../lib/core/index.js';

export const redlock = new Redlock(['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379', 'redis://10.0.0.3:6379']);
