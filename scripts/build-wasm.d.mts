export function compileWat(path: string): Promise<Buffer>;
export function generatedModule(path: string): Promise<string>;
export function watSources(): string[];
