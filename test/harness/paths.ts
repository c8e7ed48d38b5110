/** Where a home keeps a collection's trusted metadata (the layout client/src/home.ts documents). */
import { join } from 'node:path';

export const trustDirOf = (home: string, gun: string) => join(home, 'trust', encodeURIComponent(gun));
