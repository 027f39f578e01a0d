/* Register offsets and bit positions inside the peripherals this firmware touches. Base addresses are
 * not here: they come from board.h (BOARD_*_BASE), which is generated from the board's .repl, so the
 * same C runs on every board and the emulator maps exactly what the code may reach.
 * Sources: ST RM0390 (STM32F446), RM0385 (STM32F746), RM0410 (STM32F767); Arm Armv7-M ARM (ARM DDI 0403)
 * for the System Control Space and the DWT. */
#ifndef STM32_REGS_H
#define STM32_REGS_H
#include <stdint.h>

#define REG32(base, offset) (*(volatile uint32_t *)((uintptr_t)(base) + (offset)))

/* Barriers: CPACR, CCR and cache maintenance only take effect for later instructions after these. */
static inline void dsb(void) { __asm volatile("dsb 0xF" ::: "memory"); }
static inline void isb(void) { __asm volatile("isb 0xF" ::: "memory"); }

/* ---- RCC (RM0390 6.3, RM0385 5.3): the F4 and F7 layouts agree on everything used here ---- */
#define RCC_CR            0x00u
#define RCC_CR_HSION      (1u << 0)
#define RCC_CR_HSIRDY     (1u << 1)
#define RCC_CR_PLLON      (1u << 24)
#define RCC_CR_PLLRDY     (1u << 25)
#define RCC_PLLCFGR       0x04u
#define RCC_PLLCFGR_M_POS 0
#define RCC_PLLCFGR_N_POS 6
#define RCC_PLLCFGR_P_POS 16
#define RCC_PLLCFGR_SRC_HSE (1u << 22)
#define RCC_PLLCFGR_Q_POS 24
/* M, N, P, source and Q; the rest (PLLR on the F446/F767) keeps its reset value. */
#define RCC_PLLCFGR_MASK  (0x3Fu | (0x1FFu << 6) | (0x3u << 16) | (1u << 22) | (0xFu << 24))
#define RCC_CFGR          0x08u
#define RCC_CFGR_SW_MASK  0x3u
#define RCC_CFGR_SW_PLL   0x2u
#define RCC_CFGR_SWS_POS  2
#define RCC_CFGR_HPRE_POS 4
#define RCC_CFGR_PPRE1_POS 10
#define RCC_CFGR_PPRE2_POS 13
#define RCC_CFGR_PRE_MASK ((0xFu << 4) | (0x7u << 10) | (0x7u << 13))
#define RCC_AHB1ENR       0x30u
#define RCC_APB1ENR       0x40u
#define RCC_APB1ENR_PWREN (1u << 28)
#define RCC_APB2ENR       0x44u     /* RM0390 6.3.14, RM0385 5.3.14 */

/* ---- PWR: PWR_CR/PWR_CSR on the F4 (RM0390 5.4), PWR_CR1/PWR_CSR1 on the F7 (RM0385 4.4) ---- */
#define PWR_CR            0x00u
#define PWR_CR_VOS_POS    14
#define PWR_CR_VOS_MASK   (0x3u << 14)
#define PWR_CR_VOS_SCALE1 (0x3u << 14)
#define PWR_CR_ODEN       (1u << 16)
#define PWR_CR_ODSWEN     (1u << 17)
#define PWR_CSR           0x04u
#define PWR_CSR_ODRDY     (1u << 16)
#define PWR_CSR_ODSWRDY   (1u << 17)

/* ---- Flash interface (RM0390 3.8, RM0385 3.7): same ACR offset, different accelerator bits ---- */
#define FLASH_ACR               0x00u
#define FLASH_ACR_LATENCY_MASK  0xFu
#define FLASH_ACR_PRFTEN        (1u << 8)
#define FLASH_ACR_F4_ICEN       (1u << 9)
#define FLASH_ACR_F4_DCEN       (1u << 10)
#define FLASH_ACR_F7_ARTEN      (1u << 9)

/* ---- GPIO (RM0390 7.4, RM0385 6.4) ---- */
#define GPIO_MODER        0x00u
#define GPIO_MODER_AF     0x2u
#define GPIO_AFRL         0x20u
#define GPIO_AFRH         0x24u

/* ---- USART, F4 layout (RM0390 25.6): status and data share one pair of registers ---- */
#define F4_USART_SR       0x00u
#define F4_USART_DR       0x04u
#define F4_USART_BRR      0x08u
#define F4_USART_CR1      0x0Cu
#define F4_USART_SR_ORE   (1u << 3)
#define F4_USART_SR_RXNE  (1u << 5)
#define F4_USART_SR_TXE   (1u << 7)
#define F4_USART_CR1_RE   (1u << 2)
#define F4_USART_CR1_TE   (1u << 3)
#define F4_USART_CR1_UE   (1u << 13)

/* ---- USART, F7 layout (RM0385 31.8): separate ISR/ICR and RDR/TDR ---- */
#define F7_USART_CR1      0x00u
#define F7_USART_BRR      0x0Cu
#define F7_USART_ISR      0x1Cu
#define F7_USART_ICR      0x20u
#define F7_USART_RDR      0x24u
#define F7_USART_TDR      0x28u
#define F7_USART_CR1_UE   (1u << 0)
#define F7_USART_CR1_RE   (1u << 2)
#define F7_USART_CR1_TE   (1u << 3)
#define F7_USART_ISR_ORE  (1u << 3)
#define F7_USART_ISR_RXNE (1u << 5)
#define F7_USART_ISR_TXE  (1u << 7)
#define F7_USART_ICR_ORECF (1u << 3)

/* ---- System Control Space, offsets from BOARD_SCS_BASE (Armv7-M ARM B3.2) ---- */
#define SCB_VTOR          0xD08u
#define SCB_CCR           0xD14u
#define SCB_CCR_DC        (1u << 16)
#define SCB_CCR_IC        (1u << 17)
#define SCB_CCSIDR        0xD80u
#define SCB_CCSIDR_LINESIZE(r)  ((r) & 0x7u)             /* log2(words per line) - 2 */
#define SCB_CCSIDR_ASSOC(r)     (((r) >> 3) & 0x3FFu)    /* ways - 1 */
#define SCB_CCSIDR_NUMSETS(r)   (((r) >> 13) & 0x7FFFu)  /* sets - 1 */
#define SCB_CSSELR        0xD84u
#define SCB_CSSELR_L1_DATA 0x0u
#define SCB_CPACR         0xD88u
#define SCB_CPACR_CP10_CP11_FULL (0xFu << 20)
#define SCB_DEMCR         0xDFCu
#define SCB_DEMCR_TRCENA  (1u << 24)
#define SCB_ICIALLU       0xF50u
#define SCB_DCISW         0xF60u

/* ---- DWT, offsets from BOARD_DWT_BASE (Armv7-M ARM C1.8) ---- */
#define DWT_CTRL          0x000u
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_CYCCNT        0x004u
#define DWT_LAR           0xFB0u
#define DWT_LAR_KEY       0xC5ACCE55u

#endif
