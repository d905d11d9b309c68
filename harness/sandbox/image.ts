// `--image`: the root file system a sandbox boots on, ready before anything starts. A tar is
// unpacked into the image cache; a root that cannot work (no /bin/sh, another CPU, a newer kernel,
// no interpreter at --python, no /var/runtime/bootstrap for runtimeClient "image") is refused with
// exit 2, and an image the harness unpacked for it is removed again.
import type { ParsedOptions } from '../config/options.js'
import { HarnessError } from '../errors.js'
import { imageRootProblem, resolveInRoot } from '../isolation/image-root.js'
import { findBwrap } from '../isolation/launcher.js'
import type { PreparedImage } from '../layers/image.js'
import { pythonInfo, type PythonInfo } from './python-info.js'

/** Where the image's own runtime client starts (Lambda's base images: a script that runs awslambdaric). */
export const IMAGE_BOOTSTRAP = '/var/runtime/bootstrap'

export interface OpenedImage {
  readonly image: PreparedImage
  /** Our client's interpreter inside the image; undefined with the image's own runtime client or a runtimeCommand. */
  readonly python: PythonInfo | undefined
}

export async function openImage(options: ParsedOptions & { readonly image: string }): Promise<OpenedImage> {
  if (process.platform !== 'linux' || findBwrap() === undefined) {
    throw new HarnessError('ERR_INVALID_OPTION', `option image: expected the bwrap sandbox (the image is its root file system), got ${process.platform === 'linux' ? 'no bwrap on PATH (on Debian/Ubuntu: apt-get install bubblewrap)' : process.platform}`)
  }
  // Loaded here, not with the module: a run without --image never needs the tar code.
  const { forgetImage, prepareImage } = await import('../layers/image.js')
  const image = await prepareImage(options.image)
  try {
    const problem = imageRootProblem(image.root)
    if (problem !== undefined) {
      throw new HarnessError('ERR_BAD_INPUT', `option image: ${JSON.stringify(options.image)} cannot be the sandbox's root: ${problem}`)
    }
    if (options.runtimeClient === 'image') {
      if (resolveInRoot(image.root, IMAGE_BOOTSTRAP) === undefined) {
        throw new HarnessError('ERR_BAD_INPUT', `option runtimeClient: expected the image ${JSON.stringify(options.image)} to have its own ${IMAGE_BOOTSTRAP}, it has none`)
      }
      return { image, python: undefined }
    }
    const python = options.runtimeCommand === undefined ? await pythonInfo(options.python, image.root) : undefined
    return { image, python }
  } catch (error) {
    forgetImage(image)
    throw error
  }
}
