/**
 * Direct-loop reference implementations of the 3-D convolution and pooling kernels (NDHWC,
 * DHWIO), written from the definitions rather than from any backend, for tests only.
 */
import { backend_util } from '@tensorflow/tfjs-core';

export type Shape5 = [number, number, number, number, number];
export type Triple = [number, number, number];
type Pad = 'same' | 'valid';

interface Geometry {
  batch: number;
  inD: number; inH: number; inW: number; inC: number;
  outD: number; outH: number; outW: number; outC: number;
  kD: number; kH: number; kW: number;
  sD: number; sH: number; sW: number;
  padFront: number; padTop: number; padLeft: number;
}

function convGeometry(xShape: Shape5, filterShape: Shape5, strides: number | Triple, pad: Pad): Geometry {
  const info = backend_util.computeConv3DInfo(xShape, filterShape, strides, 1, pad);
  return {
    batch: info.batchSize, inD: info.inDepth, inH: info.inHeight, inW: info.inWidth, inC: info.inChannels,
    outD: info.outDepth, outH: info.outHeight, outW: info.outWidth, outC: info.outChannels,
    kD: info.filterDepth, kH: info.filterHeight, kW: info.filterWidth,
    sD: info.strideDepth, sH: info.strideHeight, sW: info.strideWidth,
    padFront: info.padInfo.front, padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

function poolGeometry(xShape: Shape5, filterSize: Triple, strides: Triple, pad: Pad): Geometry {
  const info = backend_util.computePool3DInfo(xShape, filterSize, strides, 1, pad);
  return {
    batch: info.batchSize, inD: info.inDepth, inH: info.inHeight, inW: info.inWidth, inC: info.inChannels,
    outD: info.outDepth, outH: info.outHeight, outW: info.outWidth, outC: info.outChannels,
    kD: info.filterDepth, kH: info.filterHeight, kW: info.filterWidth,
    sD: info.strideDepth, sH: info.strideHeight, sW: info.strideWidth,
    padFront: info.padInfo.front, padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

/**
 * Visits every (output position, kernel tap) pair whose input position lies inside the input:
 * visit(xIndexWithoutChannel, yIndexWithoutChannel, tapIndex). Indices are flat NDHWC offsets of
 * the first channel, and the tap index is kd·kH·kW + kh·kW + kw.
 */
function forEachTap(g: Geometry, visit: (xBase: number, yBase: number, tap: number) => void): void {
  for (let n = 0; n < g.batch; n++) {
    for (let od = 0; od < g.outD; od++) {
      for (let oh = 0; oh < g.outH; oh++) {
        for (let ow = 0; ow < g.outW; ow++) {
          const yBase = (((n * g.outD + od) * g.outH + oh) * g.outW + ow) * g.outC;
          for (let kd = 0; kd < g.kD; kd++) {
            const id = od * g.sD + kd - g.padFront;
            if (id < 0 || id >= g.inD) continue;
            for (let kh = 0; kh < g.kH; kh++) {
              const ih = oh * g.sH + kh - g.padTop;
              if (ih < 0 || ih >= g.inH) continue;
              for (let kw = 0; kw < g.kW; kw++) {
                const iw = ow * g.sW + kw - g.padLeft;
                if (iw < 0 || iw >= g.inW) continue;
                const xBase = (((n * g.inD + id) * g.inH + ih) * g.inW + iw) * g.inC;
                visit(xBase, yBase, (kd * g.kH + kh) * g.kW + kw);
              }
            }
          }
        }
      }
    }
  }
}

export function referenceConv3d(x: Float32Array, xShape: Shape5, w: Float32Array, wShape: Shape5, strides: number | Triple, pad: Pad) {
  const g = convGeometry(xShape, wShape, strides, pad);
  const y = new Float64Array(g.batch * g.outD * g.outH * g.outW * g.outC);
  forEachTap(g, (xBase, yBase, tap) => {
    for (let ci = 0; ci < g.inC; ci++) {
      const wBase = (tap * g.inC + ci) * g.outC;
      for (let co = 0; co < g.outC; co++) y[yBase + co] += x[xBase + ci] * w[wBase + co];
    }
  });
  return Float32Array.from(y);
}

export function referenceConv3dFilterGrad(x: Float32Array, xShape: Shape5, dy: Float32Array, wShape: Shape5, strides: number | Triple, pad: Pad) {
  const g = convGeometry(xShape, wShape, strides, pad);
  const dw = new Float64Array(wShape.reduce((a, b) => a * b, 1));
  forEachTap(g, (xBase, yBase, tap) => {
    for (let ci = 0; ci < g.inC; ci++) {
      const wBase = (tap * g.inC + ci) * g.outC;
      for (let co = 0; co < g.outC; co++) dw[wBase + co] += x[xBase + ci] * dy[yBase + co];
    }
  });
  return Float32Array.from(dw);
}

export function referenceConv3dInputGrad(dy: Float32Array, xShape: Shape5, w: Float32Array, wShape: Shape5, strides: number | Triple, pad: Pad) {
  const g = convGeometry(xShape, wShape, strides, pad);
  const dx = new Float64Array(xShape.reduce((a, b) => a * b, 1));
  forEachTap(g, (xBase, yBase, tap) => {
    for (let ci = 0; ci < g.inC; ci++) {
      const wBase = (tap * g.inC + ci) * g.outC;
      let sum = 0;
      for (let co = 0; co < g.outC; co++) sum += w[wBase + co] * dy[yBase + co];
      dx[xBase + ci] += sum;
    }
  });
  return Float32Array.from(dx);
}

/** Max pooling over in-bounds positions only (TF 'SAME' semantics), with the argmax for the gradient. */
export function referenceMaxPool3d(x: Float32Array, xShape: Shape5, filterSize: Triple, strides: Triple, pad: Pad) {
  const g = poolGeometry(xShape, filterSize, strides, pad);
  const size = g.batch * g.outD * g.outH * g.outW * g.outC;
  const y = new Float32Array(size).fill(-Infinity);
  const argmax = new Int32Array(size).fill(-1);
  forEachTap(g, (xBase, yBase) => {
    for (let c = 0; c < g.inC; c++) {
      if (x[xBase + c] > y[yBase + c]) {
        y[yBase + c] = x[xBase + c];
        argmax[yBase + c] = xBase + c;
      }
    }
  });
  return { y, argmax };
}

export function referenceMaxPool3dGrad(x: Float32Array, xShape: Shape5, dy: Float32Array, filterSize: Triple, strides: Triple, pad: Pad) {
  const { argmax } = referenceMaxPool3d(x, xShape, filterSize, strides, pad);
  const dx = new Float32Array(x.length);
  for (let i = 0; i < argmax.length; i++) if (argmax[i] >= 0) dx[argmax[i]] += dy[i];
  return dx;
}

/** Average over in-bounds positions only (TF 'SAME' semantics: padding is not counted). */
export function referenceAvgPool3d(x: Float32Array, xShape: Shape5, filterSize: Triple, strides: Triple, pad: Pad) {
  const g = poolGeometry(xShape, filterSize, strides, pad);
  const size = g.batch * g.outD * g.outH * g.outW * g.outC;
  const sum = new Float64Array(size);
  const count = new Int32Array(size / g.outC);
  forEachTap(g, (xBase, yBase) => {
    count[yBase / g.outC]++;
    for (let c = 0; c < g.inC; c++) sum[yBase + c] += x[xBase + c];
  });
  return Float32Array.from(sum, (s, i) => s / count[Math.floor(i / g.outC)]);
}

export function referenceAvgPool3dGrad(xShape: Shape5, dy: Float32Array, filterSize: Triple, strides: Triple, pad: Pad) {
  const g = poolGeometry(xShape, filterSize, strides, pad);
  const count = new Int32Array(g.batch * g.outD * g.outH * g.outW);
  forEachTap(g, (_x, yBase) => count[yBase / g.outC]++);
  const dx = new Float64Array(xShape.reduce((a, b) => a * b, 1));
  forEachTap(g, (xBase, yBase) => {
    const share = 1 / count[yBase / g.outC];
    for (let c = 0; c < g.inC; c++) dx[xBase + c] += dy[yBase + c] * share;
  });
  return Float32Array.from(dx);
}
