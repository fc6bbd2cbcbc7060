#include "api/apiserver-int.h"
int k1s_admit_podsecurity(k1s_api_req_t *r, k1s_admit_deny_t *deny)
{
    return 0;
}
