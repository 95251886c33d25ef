// matmul_formats.c: ck_matmul per weight format on one (8192 x 2048) matrix of random blocks: decode (T = 1) in
// GB/s of weight bytes streamed, and prefill (T = 64) in GOP/s; the best of several runs. Build and run (from the
// repository root; the command is in Benchmarks/results/formats.md):
//   OMP_INC=$(dirname $(ls /usr/lib/llvm-*/lib/clang/*/include/omp.h | tail -1))
//   OMP_LIB=$(dirname $(ls /usr/lib/llvm-*/lib/libomp.so | tail -1))
//   clang -O3 -ffp-contract=fast -fno-math-errno -fopenmp -I$OMP_INC -ICKernels/include CKernels/*.c \
//     CKernels/ref/*.c CKernels/cpu/*.c Benchmarks/formats/matmul_formats.c -o /tmp/matmul_formats \
//     -L$OMP_LIB -Wl,-rpath,$OMP_LIB -lomp -lm
//   /tmp/matmul_formats [threads]
// Random bytes with fp16 scales tamed (no inf / NaN); the values do not matter for speed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ckernels.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int fmts[]={CK_Q4_0,CK_Q4_1,CK_Q8_0,CK_Q5_0,CK_Q4_K,CK_Q5_K,CK_Q6_K,CK_Q3_K,CK_Q2_K,CK_BF16,CK_F16};
  printf("simd %s\n", ck_simd_name(ck_simd_level())); int threads=argc>1?atoi(argv[1]):2; int64_t K=2048,N=8192; 
  for(unsigned f=0;f<sizeof fmts/sizeof*fmts;f++){int fmt=fmts[f];
    size_t rb=ck_row_bytes(fmt,K); uint8_t*w=malloc(rb*N); srand(1);
    for(size_t i=0;i<rb*N;i++) w[i]=rand();
    const ck_format_info*in=ck_format_find(fmt);
    // sane fp16 scales: set every 2-byte aligned value with exponent bits 0x7c00 to 0x3000
    for(size_t i=0;i+1<rb*N;i+=2){uint16_t h; memcpy(&h,w+i,2); if((h&0x7c00)>0x3800){h=(h&0x83ff)|0x2000; memcpy(w+i,&h,2);}}
    for(int T=1;T<=64;T+=63){
      float*x=malloc(4*T*K),*o=malloc(4*T*N); for(int i=0;i<T*K;i++)x[i]=(rand()%2000-1000)/1000.0f;
      void*s=malloc(ck_matmul_scratch_bytes(fmt,T,K)+64);
      ck_matmul(fmt,o,x,w,T,K,N,threads,s);
      int reps=T==1?30:4; double dt=1e9; for(int r=0;r<reps;r++){double t0=now(); ck_matmul(fmt,o,x,w,T,K,N,threads,s); double e=now()-t0; if(e<dt)dt=e;}
      if(T==1) printf("%-5s decode %6.2f GB/s (%.2f ms)  ",in->name,rb*N/dt/1e9,dt*1e3);
      else printf("prefill T=64 %6.1f GOP/s\n",2.0*T*K*N/dt/1e9);
      free(x);free(o);free(s);}
    free(w);}
}
