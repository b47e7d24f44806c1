import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from './paths';

/**
 * The version in package.json, read at run time: importing the JSON would make tsc copy it to
 * dist/, where src/paths.ts would then take dist/ for the project root.
 */
export const version: string = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')).version;
