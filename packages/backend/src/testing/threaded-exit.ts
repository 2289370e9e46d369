// Run by wasm-threads.test.ts in a child process: it must exit on its own once this is done.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, wasmThreadsInUse } from '@mm/backend';

await initBackend({ backend: 'wasm', threads: 2, env: {}, log: false });
// 8 output channels: the kernel module runs it, split across its own pool worker as well.
const y = tf.conv2d(tf.ones([2, 8, 8, 3]) as tf.Tensor4D, tf.ones([3, 3, 3, 8]) as tf.Tensor4D, 1, 'same');
console.log(JSON.stringify({ threads: wasmThreadsInUse(), centre: y.dataSync()[(2 * 8 + 2) * 8] }));
