/**
 * A small builder for sparse (mixed-integer) linear models in HiGHS' structured form: add
 * columns and rows, then `toModelData()`. Rows are stored CSR; bounds use ±Infinity and are
 * converted to HiGHS' infinity when the model is handed over.
 */
import type { Highs, ModelData } from 'highs';

/** Accumulates columns and rows of one model. */
export class LpBuilder {
  private readonly cost: number[] = [];
  private readonly lower: number[] = [];
  private readonly upper: number[] = [];
  private readonly integer: number[] = [];
  private readonly rowLower: number[] = [];
  private readonly rowUpper: number[] = [];
  private readonly starts: number[] = [0];
  private readonly indices: number[] = [];
  private readonly values: number[] = [];

  /** Adds a column and returns its index. */
  addCol(cost: number, lower: number, upper: number, integer: boolean): number {
    this.cost.push(cost);
    this.lower.push(lower);
    this.upper.push(upper);
    this.integer.push(integer ? 1 : 0);
    return this.cost.length - 1;
  }

  /** Adds `lower ≤ Σ values[k]·x[cols[k]] ≤ upper`; columns must be distinct. */
  addRow(lower: number, upper: number, cols: readonly number[], values: readonly number[]): void {
    for (let k = 0; k < cols.length; k++) {
      if (values[k] === 0) continue;
      this.indices.push(cols[k]!);
      this.values.push(values[k]!);
    }
    this.rowLower.push(lower);
    this.rowUpper.push(upper);
    this.starts.push(this.indices.length);
  }

  get cols(): number {
    return this.cost.length;
  }

  get rows(): number {
    return this.rowLower.length;
  }

  /** The model for HiGHS; `mip` keeps the integrality of the columns added as integer. */
  toModelData(highs: Highs, mip: boolean): ModelData {
    const inf = (v: number) =>
      v === Number.POSITIVE_INFINITY ? highs.infinity : v === Number.NEGATIVE_INFINITY ? -highs.infinity : v;
    const numCols = this.cost.length;
    const numRows = this.rowLower.length;
    const data: ModelData = {
      numCols,
      numRows,
      colCost: Float64Array.from(this.cost),
      colLower: Float64Array.from(this.lower, inf),
      colUpper: Float64Array.from(this.upper, inf),
      rowLower: Float64Array.from(this.rowLower, inf),
      rowUpper: Float64Array.from(this.rowUpper, inf),
      matrix: {
        format: 'csr',
        numRows,
        numCols,
        starts: Int32Array.from(this.starts),
        indices: Int32Array.from(this.indices),
        values: Float64Array.from(this.values),
      },
    };
    return mip ? { ...data, integrality: Int32Array.from(this.integer) as ModelData['integrality'] } : data;
  }
}
