*** Settings ***
Documentation     The zoo's fit verdicts from the linked images: flash, and static RAM (.data and .bss with
...               the arena) against each board's map. Every registered model the registry expects on a
...               board (expect_fit, else the paper's runs_on) fits it; named cells either way.
Resource          harness.resource


*** Test Cases ***
Registry Expectations On NUCLEO-F446RE
    Zoo Fit Verdicts Should Match Registry    nucleo_f446re

Registry Expectations On NUCLEO-F746ZG
    Zoo Fit Verdicts Should Match Registry    nucleo_f746zg

Registry Expectations On NUCLEO-F767ZI
    Zoo Fit Verdicts Should Match Registry    nucleo_f767zi

KWS MicroNet-S Fits The Smallest Board
    Model Should Fit Board    kws_micronet_s    nucleo_f446re

Large AD Model Needs The F767
    Model Should Not Fit Board    ad_large_int8    nucleo_f446re
    Model Should Not Fit Board    ad_large_int8    nucleo_f746zg
    Model Should Fit Board    ad_large_int8    nucleo_f767zi

MCUNet-Like Model Fits The F446RE Only With Patches
    Model Should Not Fit Board    gen_mcunet_f446    nucleo_f446re
    Model Should Fit Board With Patches    gen_mcunet_f446    nucleo_f446re
