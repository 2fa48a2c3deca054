/* The header units are compiled by the build: reaching main means every public header
 * compiled on its own with the project's warnings as errors. */
#include <stdio.h>

int main(void)
{
    printf("%d public headers compile standalone\n1 passed, 0 failed\n", TG_HEADER_COUNT);
    return TG_HEADER_COUNT > 0 ? 0 : 1;
}
