/**
 * YCSB's generator thread on a worker of its own (src/workloads/ycsb/run-thread.ts),
 * for a simulator without a line thread to run it.
 */
import { receiveMessageOnPort, workerData } from "node:worker_threads";
import { generatorCores, produceParts, type GeneratorWorkerData } from "./run-thread.js";

const data = workerData as GeneratorWorkerData;
produceParts(data, generatorCores(data.module), receiveMessageOnPort);
