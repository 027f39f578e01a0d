/* The two result lines, from whatever the output tensors hold now:
 *   m-results-[v0,v1,...]        the first output's dequantized values, printf("%.3f") style (for an MSE
 *                                benchmark after a download in its float32 format: the one reconstruction
 *                                error)
 *   m-results-raw-[0a1bff...]    every output tensor's bytes in lowercase hex, in the graph's order, one
 *                                comma between two outputs (none for a model with one output) */
#ifndef RESULTS_H
#define RESULTS_H

/* After an inference: computes what depends on the input (the MSE), then prints. */
void results_after_infer(void);
void results_print(void);
void cmd_results(char **args);

#endif
