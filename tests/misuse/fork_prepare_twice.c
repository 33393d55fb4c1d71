/* pf_fork_prepare called twice without parent/child between (a second
 * pthread_atfork registration, say): the second must not wait forever on
 * the locks the first holds. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_fork_prepare();
  pf_fork_prepare();
  pf_fork_parent();
  return got_through("pf_fork_prepare twice");
}
