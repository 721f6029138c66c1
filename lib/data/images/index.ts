/** Images for AlexNet: folder/list sources, sharp decoding to 256x256, crops, flips, PCA lighting, a prefetching loader. */
export { imageFolderLoader, ImageFolderLoader, type ImageLoaderOptions, type ImageBatch } from './loader.js';
export { loadImageForPredict, type PredictImageOptions } from './predict.js';
export { decodeImage, resizedSize } from './decode.js';
export { computeMeanImage } from './mean.js';
export { listImageFolder, readImageList, imageSource, type ImageSource, type ListOptions } from './sources.js';
export {
  IMAGENET_MEAN,
  IMAGENET_PCA,
  SIDE as IMAGE_SIDE,
  lightingOffset,
  placement,
  tenCropPlacements,
  transformSpec,
  writeInput,
  type Pca,
  type Placement,
  type TransformOptions,
  type TransformSpec,
} from './transform.js';
