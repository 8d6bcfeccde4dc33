// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Operated} from "./lib/Operated.sol";
import {PolicyCertificate} from "./PolicyCertificate.sol";
import {TokenIO} from "./lib/TokenIO.sol";

/// @notice What the pool needs from a bridge endpoint.
interface IBridgeSend {
    function send(bytes32 transferId, uint256 dstChainId, bytes32 recipient, uint256 amount) external;
    function sent(bytes32 transferId) external view returns (bool);
}

/// @notice What the pool needs from a reinsurance vault.
interface ICessionTaker {
    function acceptCession(bytes32 cessionId, uint256 cededAmount, uint256 premium) external;
}

/// @title RiskPool
/// @notice Holds one chain's insurance risk capital in the settlement token.
/// Capital providers deposit; the operator opens covers that lock part of the
/// capital, pays claims (never more than a cover's limit), and moves *free*
/// capital out to another chain or a reinsurance vault.
/// @dev Invariants:
///  - `lockedCapital` equals the sum of `locked` over all open covers.
///  - Capital leaves only through the operator, and only from free capital
///    (balance - lockedCapital), except claim payments, which spend the cover's
///    own locked capital first.
///  - Every outbound movement carries a transfer id that is marked used before
///    any external call, so a retried or replayed instruction can never pay twice.
///  - Cumulative claim payments on a cover never exceed its limit.
///  - Cover ids are never reused (closed covers stay recorded), so the ERC-721
///    policy certificate of a cover is token `uint256(coverId)` of `certificate`,
///    the PolicyCertificate contract this pool deploys in its constructor and
///    alone may mint from (`bindCover`).
///  - `payClaimToHolder` pays whoever holds the certificate when it runs, under
///    a payment id from the transfer-id namespace (like `settleClaim`'s claim ids).
contract RiskPool is Operated {
    using TokenIO for address;

    enum CoverStatus {
        None,
        Open,
        Closed
    }

    struct Cover {
        uint256 limit;
        uint256 locked;
        uint256 paid;
        CoverStatus status;
    }

    address private immutable _asset;
    /// @notice The policy certificates (ERC-721) of this pool's covers.
    PolicyCertificate public immutable certificate;

    uint256 public lockedCapital;
    uint256 public totalDeposits;
    mapping(address provider => uint256) public deposits;
    mapping(bytes32 transferId => bool) public transferUsed;
    mapping(bytes32 coverId => Cover) private _covers;

    event Deposited(address indexed provider, uint256 amount);
    event CoverOpened(bytes32 indexed coverId, uint256 limit, uint256 lockedAmount);
    event CoverClosed(bytes32 indexed coverId, uint256 released);
    event ClaimPaid(bytes32 indexed coverId, address indexed to, uint256 amount, uint256 fromLocked);
    event ClaimSettled(bytes32 indexed claimId, bytes32 indexed coverId);
    event CoverBound(
        bytes32 indexed coverId,
        address indexed payer,
        address indexed holder,
        uint256 limit,
        uint256 lockedAmount,
        uint256 premium
    );
    event ClaimPaidToHolder(
        bytes32 indexed paymentId, bytes32 indexed coverId, address indexed holder, uint256 amount
    );
    event CapitalSent(bytes32 indexed transferId, address indexed to, uint256 amount);
    event CapitalBridged(
        bytes32 indexed transferId, address indexed bridge, uint256 dstChainId, bytes32 recipient, uint256 amount
    );
    event ExposureCeded(bytes32 indexed transferId, address indexed vault, uint256 cededAmount, uint256 premium);

    error ZeroAmount();
    error ZeroId();
    error TransferIdUsed(bytes32 transferId);
    error InsufficientFreeCapital(uint256 requested, uint256 free);
    error CoverExists(bytes32 coverId);
    error CoverNotOpen(bytes32 coverId);
    error LockExceedsLimit(uint256 lockedAmount, uint256 limit);
    error PayoutOverCap(bytes32 coverId, uint256 requested, uint256 remaining);
    /// @notice Someone else already sent this id through the bridge: pick a new id
    /// (this is not our transfer having happened; `transferUsed` says that).
    error BridgeIdTaken(bytes32 transferId);
    /// @notice The bridge or vault did not take exactly the approved amount.
    error CounterpartyShortfall(uint256 expected, uint256 taken);
    /// @notice The cover was opened without a certificate (`openCover`): no holder to pay.
    error NoCertificate(bytes32 coverId);

    constructor(address asset_, address admin_, address operator_) Operated(admin_, operator_) {
        if (asset_ == address(0)) revert ZeroAddress();
        _asset = asset_;
        certificate = new PolicyCertificate();
    }

    /// @notice The settlement token this pool holds.
    function asset() external view returns (address) {
        return _asset;
    }

    /// @notice Capital not locked by any cover: what the operator may move out.
    function freeCapital() public view returns (uint256) {
        uint256 balance = _asset.balanceOf(address(this));
        return balance > lockedCapital ? balance - lockedCapital : 0;
    }

    /// @notice A cover's accounting: limit, capital still locked for it, paid so far, status.
    function coverOf(bytes32 coverId)
        external
        view
        returns (uint256 limit, uint256 locked, uint256 paid, CoverStatus status)
    {
        Cover storage c = _covers[coverId];
        return (c.limit, c.locked, c.paid, c.status);
    }

    /// @notice The holder of record of a cover's certificate, or the zero address if it has none.
    function certificateHolder(bytes32 coverId) external view returns (address) {
        return certificate.holderOf(uint256(coverId));
    }

    /// @notice Add capital; the caller must have approved `amount` of the asset.
    function deposit(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        deposits[msg.sender] += amount;
        totalDeposits += amount;
        emit Deposited(msg.sender, amount);
        _asset.safeTransferFrom(msg.sender, address(this), amount);
    }

    // ---------------------------------------------------------------- covers

    /// @notice Open a cover with a payout `limit`, locking `lockedAmount` of free capital for it.
    /// No premium, no certificate (claims on it go to an explicit recipient: `settleClaim`).
    function openCover(bytes32 coverId, uint256 limit, uint256 lockedAmount) external onlyOperator {
        _openCover(coverId, limit, lockedAmount);
    }

    /// @notice Bind a cover: open it (as `openCover`), collect `premium` from `payer`
    /// (who approved this pool for it beforehand) and issue the policy certificate,
    /// token `uint256(coverId)`, to `holder`. The lock is judged against free capital
    /// before the premium arrives. The cover id can be bound once only.
    function bindCover(
        bytes32 coverId,
        uint256 limit,
        uint256 lockedAmount,
        uint256 premium,
        address payer,
        address holder
    ) external onlyOperator {
        if (premium == 0) revert ZeroAmount();
        if (payer == address(0) || holder == address(0)) revert ZeroAddress();
        _openCover(coverId, limit, lockedAmount);
        emit CoverBound(coverId, payer, holder, limit, lockedAmount, premium);
        _asset.safeTransferFrom(payer, address(this), premium);
        certificate.mint(holder, uint256(coverId));
    }

    function _openCover(bytes32 coverId, uint256 limit, uint256 lockedAmount) private {
        if (coverId == bytes32(0)) revert ZeroId();
        if (limit == 0) revert ZeroAmount();
        if (lockedAmount > limit) revert LockExceedsLimit(lockedAmount, limit);
        Cover storage c = _covers[coverId];
        if (c.status != CoverStatus.None) revert CoverExists(coverId);
        uint256 free = freeCapital();
        if (lockedAmount > free) revert InsufficientFreeCapital(lockedAmount, free);
        c.limit = limit;
        c.locked = lockedAmount;
        c.status = CoverStatus.Open;
        lockedCapital += lockedAmount;
        emit CoverOpened(coverId, limit, lockedAmount);
    }

    /// @notice Close a cover and unlock whatever capital it still held.
    function closeCover(bytes32 coverId) external onlyOperator {
        Cover storage c = _covers[coverId];
        if (c.status != CoverStatus.Open) revert CoverNotOpen(coverId);
        uint256 released = c.locked;
        c.locked = 0;
        c.status = CoverStatus.Closed;
        lockedCapital -= released;
        emit CoverClosed(coverId, released);
    }

    /// @notice Pay a claim on an open cover: from its locked capital first, then from free capital.
    function payClaim(bytes32 coverId, address to, uint256 amount) external onlyOperator {
        _payClaim(coverId, to, amount);
    }

    /// @notice `payClaim` under a claim id that can never be paid twice, so a
    /// retried instruction cannot pay a claim again (still within the cap).
    /// Claim ids share the transfer-id namespace: `transferUsed(claimId)` says it was paid.
    function settleClaim(bytes32 claimId, bytes32 coverId, address to, uint256 amount) external onlyOperator {
        if (claimId == bytes32(0)) revert ZeroId();
        if (transferUsed[claimId]) revert TransferIdUsed(claimId);
        transferUsed[claimId] = true;
        emit ClaimSettled(claimId, coverId);
        _payClaim(coverId, to, amount);
    }

    /// @notice Pay `amount` on a cover to the holder of its certificate at this moment,
    /// under `paymentId`, which can never pay twice (`transferUsed(paymentId)`); capped
    /// by the cover's limit like every claim payment.
    function payClaimToHolder(bytes32 paymentId, bytes32 coverId, uint256 amount) external onlyOperator {
        if (paymentId == bytes32(0)) revert ZeroId();
        if (transferUsed[paymentId]) revert TransferIdUsed(paymentId);
        address holder = certificate.holderOf(uint256(coverId));
        if (holder == address(0)) revert NoCertificate(coverId);
        transferUsed[paymentId] = true;
        emit ClaimPaidToHolder(paymentId, coverId, holder, amount);
        _payClaim(coverId, holder, amount);
    }

    function _payClaim(bytes32 coverId, address to, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        Cover storage c = _covers[coverId];
        if (c.status != CoverStatus.Open) revert CoverNotOpen(coverId);
        uint256 remaining = c.limit - c.paid;
        if (amount > remaining) revert PayoutOverCap(coverId, amount, remaining);
        uint256 fromLocked = amount < c.locked ? amount : c.locked;
        uint256 fromFree = amount - fromLocked;
        if (fromFree > 0) {
            uint256 free = freeCapital();
            if (fromFree > free) revert InsufficientFreeCapital(fromFree, free);
        }
        c.paid += amount;
        c.locked -= fromLocked;
        lockedCapital -= fromLocked;
        emit ClaimPaid(coverId, to, amount, fromLocked);
        _asset.safeTransfer(to, amount);
    }

    // ----------------------------------------------------------- capital out

    /// @notice Send free capital to an address on this chain.
    function transferOut(bytes32 transferId, address to, uint256 amount) external onlyOperator {
        if (to == address(0)) revert ZeroAddress();
        _spendFree(transferId, amount);
        emit CapitalSent(transferId, to, amount);
        _asset.safeTransfer(to, amount);
    }

    /// @notice Send free capital to another chain through a bridge endpoint, under the same transfer id.
    function sendToBridge(bytes32 transferId, address bridge, uint256 dstChainId, bytes32 recipient, uint256 amount)
        external
        onlyOperator
    {
        if (bridge == address(0)) revert ZeroAddress();
        _spendFree(transferId, amount);
        if (IBridgeSend(bridge).sent(transferId)) revert BridgeIdTaken(transferId);
        emit CapitalBridged(transferId, bridge, dstChainId, recipient, amount);
        uint256 before = _asset.balanceOf(address(this));
        _asset.safeApprove(bridge, amount);
        IBridgeSend(bridge).send(transferId, dstChainId, recipient, amount);
        _checkTaken(before, amount, bridge);
    }

    /// @notice Cede `cededAmount` of exposure to a vault, paying `premium` from free capital.
    /// The transfer id doubles as the vault's cession id.
    function cede(bytes32 transferId, address vault, uint256 cededAmount, uint256 premium) external onlyOperator {
        if (vault == address(0)) revert ZeroAddress();
        if (cededAmount == 0) revert ZeroAmount();
        _spendFree(transferId, premium);
        emit ExposureCeded(transferId, vault, cededAmount, premium);
        uint256 before = _asset.balanceOf(address(this));
        _asset.safeApprove(vault, premium);
        ICessionTaker(vault).acceptCession(transferId, cededAmount, premium);
        _checkTaken(before, premium, vault);
    }

    /// @dev Checks shared by every outbound movement; marks the id used before any external call.
    function _spendFree(bytes32 transferId, uint256 amount) private {
        if (transferId == bytes32(0)) revert ZeroId();
        if (amount == 0) revert ZeroAmount();
        if (transferUsed[transferId]) revert TransferIdUsed(transferId);
        uint256 free = freeCapital();
        if (amount > free) revert InsufficientFreeCapital(amount, free);
        transferUsed[transferId] = true;
    }

    /// @dev The counterparty must pull exactly the approved amount, and no allowance may linger.
    function _checkTaken(uint256 before, uint256 amount, address spender) private {
        uint256 now_ = _asset.balanceOf(address(this));
        uint256 taken = before > now_ ? before - now_ : 0;
        if (taken != amount) revert CounterpartyShortfall(amount, taken);
        if (_asset.allowanceOf(address(this), spender) != 0) _asset.safeApprove(spender, 0);
    }
}
