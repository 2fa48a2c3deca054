/* Gradcheck cases of the convolution, pooling and normalisation ops. */
#include "gradcheck_cases.h"

const gc_case gc_cases_cnn[] = {
    {0},
};
const int gc_ncases_cnn = 0;
