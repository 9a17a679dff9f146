/**
 * The line cache's worker thread (src/core/line-thread.ts): cores of the main cores'
 * configurations that run the main cores' recorded line-cache uses, and, while its ring
 * is empty or nearly, YCSB's generator when the simulator has one
 * (src/workloads/ycsb/run-thread.ts).
 */
import { receiveMessageOnPort, workerData } from "node:worker_threads";
import { consumeLineRing, type LineWorkerData, type SideTask } from "./line-thread.js";
import { WasmCore } from "./wasm.js";
import { HOSTED_AHEAD, PartProducer, generatorCores } from "../workloads/ycsb/run-thread.js";

const data = workerData as LineWorkerData;
const producer = new PartProducer(data.side, generatorCores(data.module), receiveMessageOnPort, HOSTED_AHEAD);
// a failed generator reports on its own channel and stops; the line cache goes on
let generator: PartProducer | null = producer;
const side: SideTask = {
  poll(idle: boolean): boolean {
    if (!generator) return false;
    try {
      return generator.poll(idle);
    } catch (e) {
      generator.fail(e);
      generator = null;
      return false;
    }
  },
};
consumeLineRing(data, (config) => WasmCore.fromModule(config, data.module), receiveMessageOnPort, side);
