/* tapegrad — reverse-mode automatic differentiation over n-dimensional tensors, in C11.
 * The umbrella header: include this one. */
#ifndef TAPEGRAD_H
#define TAPEGRAD_H

#include "tensor/tensor.h"
#include "autograd/autograd.h"
#include "autograd/cnn.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "io/datasets.h"
#include "io/prep.h"
#include "io/checkpoint.h"
#include "train/train.h"
#include "audio/audio.h"

#endif
