import pkg from '../../package.json' with { type: 'json' };

/** Node software version, from package.json (bundled at build time on Workers). */
export const VERSION: string = pkg.version;
