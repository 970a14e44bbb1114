/** The fault matrix through the SDKs this repository installs (see fault-matrix.ts). */
import { faultMatrix } from "./fault-matrix.ts"

faultMatrix()
