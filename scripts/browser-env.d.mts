export declare const CROSS_ORIGIN_ISOLATION_HEADERS: Record<string, string>;
export declare const CHROMIUM_PATH: string;
export declare const CHROMIUM_ARGS: string[];
export declare function serveFolders(mounts: Record<string, string>): import('vite').Plugin;
