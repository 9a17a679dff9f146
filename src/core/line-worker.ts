/**
 * The line cache's worker thread (src/core/line-thread.ts): cores of the main cores'
 * configurations that run the main cores' recorded line-cache uses.
 */
import { receiveMessageOnPort, workerData } from "node:worker_threads";
import { consumeLineRing, type LineWorkerData } from "./line-thread.js";
import { WasmCore } from "./wasm.js";

const data = workerData as LineWorkerData;
consumeLineRing(data, (config) => WasmCore.fromModule(config, data.module), receiveMessageOnPort);
