/* Placeholder: replaced by the request validator. */
#include "spec.h"
