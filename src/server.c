/* Process start-up: configuration, wiring of the rooms, the event loop.
 * Placeholder until the server core lands: it only reports its version. */
#include <stdio.h>

int main(void)
{
    printf("raftcache-server 0.1\n");
    return 0;
}
