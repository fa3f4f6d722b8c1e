#include "kernels/internal.h"
jfa_status_t tc_forward(bool *done, jfa_context_t *, const jfa_problem_t *, const jfa_tensor_t *, const jfa_tensor_t *,
                        const jfa_tensor_t *, const jfa_tensor_t *, const jfa_tensor_t *,
                        const jfa_tensor_t *, const jfa_tensor_t *, const jfa_tensor_t *,
                        const jfa_tensor_t *, const jfa_tensor_t *, int) { *done = false; return JFA_SUCCESS; }
jfa_status_t tc_backward(bool *done, jfa_context_t *, const jfa_problem_t *, const jfa_tensor_t *,
                         const jfa_tensor_t *, const jfa_tensor_t *, const jfa_tensor_t *, View ,
                         View , float *, int64_t , int , const jfa_tensor_t *,
                         const jfa_tensor_t *, int ) { *done = false; return JFA_SUCCESS; }
